/** What a message may be filled in with (a limit, an allowed list, a field name…). */
export type MessageParams = Record<string, string | number | boolean | readonly string[] | undefined>;

/** A message in one language: fixed text, or text built from its parameters. */
export type MessageText = string | ((p: MessageParams) => string);

export type Translations = { fr: MessageText; en: MessageText };

export const fill = (text: MessageText, params: MessageParams = {}): string => (typeof text === "string" ? text : text(params));
