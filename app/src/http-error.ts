import { STATUS_CODES } from "node:http";
import type { ErrorBody } from "./schemas";

/**
 * An error with its HTTP status, thrown by routes and hooks; plugins/errors.ts turns it into the response.
 * `headers` go with it (Retry-After on a 503, Allow on a 405).
 */
export class HttpError extends Error {
    constructor(
        readonly statusCode: number,
        message: string,
        readonly headers: Readonly<Record<string, string>> = {},
    ) {
        super(message);
        this.name = "HttpError";
    }
}

/** The one shape of every error body. */
export function errorBody(statusCode: number, message: string): ErrorBody {
    return { error: STATUS_CODES[statusCode] ?? "Error", message };
}

export const notFound = (message: string) => new HttpError(404, message);

/** The database or the schema is not ready: clients may retry after a short wait. */
export const unavailable = (message: string) => new HttpError(503, message, { "retry-after": "5" });
