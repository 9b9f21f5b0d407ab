/** A UUID in its canonical text form (any version), as ids and path parameters use. */
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** @returns whether `text` is a UUID, so it can be queried as one without a PostgreSQL cast error */
export const isUuid = (text: string): boolean => uuidPattern.test(text);

/**
 * Escapes LIKE/ILIKE wildcards, so user text matches itself literally.
 * @param text - what the user typed
 */
export const escapeLike = (text: string): string => text.replace(/[\\%_]/g, "\\$&");
