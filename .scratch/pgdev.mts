import { startPostgres } from "/work/main/scripts/local/postgres.ts";
const pg = await startPostgres({ dataDir: "/tmp/pgdev/data", port: 55432 });
console.log("READY", pg.url);
process.on("SIGTERM", async () => { await pg.stop(); process.exit(0); });
setInterval(() => {}, 1 << 30);
