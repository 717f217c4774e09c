import assert from "node:assert/strict";
import { CURSOR_PATTERN, decodeCursor, encodeCursor } from "../src/cursor";
import { INVISIBLE } from "../src/schemas";

describe("schemas", function () {
    it("count as invisible exactly the White_Space, Default_Ignorable and control characters up to U+FFFF", function () {
        const listed = new RegExp(`^[${INVISIBLE}]$`, "u");
        const byProperty = /^[\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Cc}]$/u;
        const differ: string[] = [];
        for (let code = 0; code <= 0xffff; code++) {
            if (code >= 0xd800 && code <= 0xdfff) continue;
            const character = String.fromCharCode(code);
            if (listed.test(character) !== byProperty.test(character)) differ.push(code.toString(16));
        }
        assert.deepEqual(differ, []);
    });
});

describe("list cursor", function () {
    const id = "6f1c2a9e-0000-4000-8000-000000000000";

    it("round-trips a position to the microsecond, in the documented form", function () {
        for (const createdAt of ["2026-11-27T11:49:48.123456Z", "1970-01-01T00:00:00.000001Z", "2099-12-31T23:59:59.999999Z"]) {
            const cursor = encodeCursor({ createdAt, id });
            assert.match(cursor, new RegExp(CURSOR_PATTERN, "u"));
            assert.deepEqual(decodeCursor(cursor), { createdAt, id });
        }
        assert.equal(encodeCursor({ createdAt: "2026-11-27T11:49:48.123456Z", id }), `1795780188123456_${id}`);
    });

    it("decodes the extremes its pattern allows to timestamps PostgreSQL takes", function () {
        assert.deepEqual(decodeCursor(`0_${id}`), { createdAt: "1970-01-01T00:00:00.000000Z", id });
        assert.equal(decodeCursor(`9999999999999999_${id}`).createdAt.slice(0, 4), "2286");
    });
});
