-- A request keeps the contact details it was submitted with (issue #10): the
-- customer row is upserted by email, so a later submission with the same email
-- (anyone can type it) must not change what an earlier request says, nor what
-- its CRM snapshots carry.
alter table requests add column if not exists email text check (email = lower(email) and length(email) <= 254);
alter table requests add column if not exists phone text check (phone ~ '^\+[1-9][0-9]{6,14}$');
alter table requests add column if not exists full_name text check (length(full_name) <= 200);
alter table requests add column if not exists client_type text check (client_type in ('particulier', 'professionnel', 'collectivite'));
alter table requests add column if not exists company_name text check (length(company_name) <= 200);
alter table requests add column if not exists siren text check (siren ~ '^[0-9]{9}$');

-- Requests written before: the customer's details as they stand.
update requests r
set email = c.email, phone = c.phone, full_name = c.full_name, client_type = c.client_type,
    company_name = c.company_name, siren = c.siren
from customers c
where c.id = r.customer_id and r.email is null;
