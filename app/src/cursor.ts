/**
 * The list cursor: the position of the last item of a page in the list order (created_at, id), written as
 * `<created_at in microseconds since 1970>_<id>`. Every string of this form is a valid position, so the pattern
 * in the OpenAPI document says exactly what is accepted; 16 digits reach the year 2286, inside PostgreSQL's range.
 */
export const CURSOR_PATTERN = "^(0|[1-9][0-9]{0,15})_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/** Where a page starts: after the item with this created_at (UTC ISO 8601 with microseconds) and id. */
export interface Position {
    readonly createdAt: string;
    readonly id: string;
}

const MICROS_PER_SECOND = 1_000_000;

/** From an item's `created_at` as the repository returns it, `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function encodeCursor(position: Position): string {
    const seconds = Date.parse(`${position.createdAt.slice(0, 19)}Z`) / 1000;
    const micros = Number(position.createdAt.slice(20, 26));
    return `${seconds * MICROS_PER_SECOND + micros}_${position.id}`;
}

/** For a cursor that matched CURSOR_PATTERN (the route's schema checks it). */
export function decodeCursor(cursor: string): Position {
    const [digits, id] = cursor.split("_");
    // Beyond 2^53 microseconds (the year 2255) the position may move by a microsecond: still a valid position.
    const total = Number(digits);
    const micros = total % MICROS_PER_SECOND;
    const seconds = (total - micros) / MICROS_PER_SECOND;
    const createdAt = `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${String(micros).padStart(6, "0")}Z`;
    return { createdAt, id };
}
