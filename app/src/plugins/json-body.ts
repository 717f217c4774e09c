import { isUtf8 } from "node:buffer";
import type { FastifyInstance } from "fastify";
import secureJson from "secure-json-parse";
import { HttpError } from "../http-error";

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;
const FORBIDDEN_KEY = "Object contains forbidden prototype property";
/** A `\uD8xx`-`\uDFxx` escape: only such escapes can make an unpaired surrogate, UTF-8 cannot encode one. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
/** With the u flag, a surrogate that is part of a pair is one code point: this matches unpaired ones only. */
const UNPAIRED_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Request bodies are I-JSON (RFC 7493) in UTF-8 and nothing else. Fastify's own parsers would also take
 * text/plain, read any declared charset as UTF-8, and let invalid bytes and unpaired surrogates (`"\ud800"`)
 * become U+FFFD in the database; here those are refused (415, 400), so what is stored is what was sent.
 * Registered on the root instance: content-type parsers are scoped like plugins.
 */
export function useJsonBodies(app: FastifyInstance): void {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
        try {
            done(null, parseJsonBody(request.headers["content-type"], body as Buffer));
        } catch (err) {
            done(err as Error, undefined);
        }
    });
}

export function parseJsonBody(contentType: string | undefined, body: Buffer): unknown {
    const charset = CHARSET.exec(contentType ?? "")?.[1].toLowerCase();
    if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
        throw new HttpError(415, `the body is declared as charset=${charset}: send application/json in UTF-8 (charset=utf-8 or none)`);
    }
    if (body.length === 0) throw new HttpError(400, "the body is empty: send a JSON object");
    if (!isUtf8(body)) throw new HttpError(400, "the body is not valid UTF-8: send JSON encoded in UTF-8");
    const text = body.toString("utf8");
    let value: unknown;
    try {
        value = secureJson.parse(text, null, { protoAction: "error", constructorAction: "error" });
    } catch (err) {
        const message = (err as Error).message;
        if (message === FORBIDDEN_KEY) {
            throw new HttpError(
                400,
                'the body has a "__proto__" key, or a "constructor" key holding "prototype": such keys are refused because they can alter object prototypes',
            );
        }
        throw new HttpError(400, `the body is not valid JSON: ${message}`);
    }
    // Most bodies have no such escape, and skip the walk.
    if (SURROGATE_ESCAPE.test(text)) {
        const where = unpairedSurrogate(value, "body");
        if (where !== undefined) {
            throw new HttpError(400, `${where} has an unpaired surrogate, which is not Unicode text: send well-formed strings`);
        }
    }
    return value;
}

/** The path of the first key or string with an unpaired surrogate, like body/description. */
function unpairedSurrogate(value: unknown, path: string): string | undefined {
    if (typeof value === "string") return UNPAIRED_SURROGATE.test(value) ? path : undefined;
    if (typeof value !== "object" || value === null) return undefined;
    for (const [key, child] of Object.entries(value)) {
        if (UNPAIRED_SURROGATE.test(key)) return `${path}/${JSON.stringify(key)}`;
        const found = unpairedSurrogate(child, `${path}/${key}`);
        if (found !== undefined) return found;
    }
    return undefined;
}
