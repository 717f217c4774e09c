import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { decodeCursor, encodeCursor } from "../cursor";
import { notFound, unavailable } from "../http-error";
import type { ItemsRepository } from "../items-repository";
import { CreateItemBody, ErrorBody, Item, ItemIdParams, ItemPage, ListQuery, PAGE_DEFAULT, UpdateItemBody } from "../schemas";

export interface ItemsRoutesOptions {
    readonly items: ItemsRepository;
    /** API requests get 503 until this says the schema is current. */
    readonly isSchemaReady: () => boolean;
}

const error = Type.Ref(ErrorBody);
/** What any item route may answer besides success; routes that take a body add 413 and 415. */
const errors = { 400: error, 503: error };
const bodyErrors = { ...errors, 413: error, 415: error };
const itemRef = Type.Ref(Item);

const missing = (id: string) => notFound(`item ${id} does not exist`);

function found(item: Item | undefined, id: string): Item {
    if (item === undefined) throw missing(id);
    return item;
}

export const itemsRoutes: FastifyPluginAsyncTypebox<ItemsRoutesOptions> = async (app, { items, isSchemaReady }) => {
    // Callback hooks on the hot path: an async one costs a promise and a microtask per request.
    app.addHook("onRequest", (_request, _reply, done) => {
        done(isSchemaReady() ? undefined : unavailable("the database schema is not ready yet; retry later"));
    });

    app.post(
        "/items",
        { schema: { summary: "Create an item", body: CreateItemBody, response: { 201: itemRef, ...bodyErrors } } },
        async (request, reply) => {
            const item = await items.create({ name: request.body.name, description: request.body.description ?? null });
            return reply
                .code(201)
                .header("location", `${request.routeOptions.url ?? ""}/${item.id}`)
                .send(item);
        },
    );

    app.get(
        "/items",
        {
            schema: {
                summary: "List items, oldest first, one page at a time",
                querystring: ListQuery,
                response: { 200: ItemPage, ...errors },
            },
        },
        async (request) => {
            // The validator fills in the default; the type cannot know that.
            const { limit = PAGE_DEFAULT, cursor } = request.query;
            const page = await items.list(limit, cursor === undefined ? undefined : decodeCursor(cursor));
            const last = page.items[page.items.length - 1];
            const nextCursor = page.more ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null;
            return { items: page.items, next_cursor: nextCursor };
        },
    );

    app.get(
        "/items/:id",
        { schema: { summary: "Get one item", params: ItemIdParams, response: { 200: itemRef, 404: error, ...errors } } },
        async (request) => found(await items.findById(request.params.id), request.params.id),
    );

    app.patch(
        "/items/:id",
        {
            schema: {
                summary: "Change the name and/or the description of an item",
                params: ItemIdParams,
                body: UpdateItemBody,
                response: { 200: itemRef, 404: error, ...bodyErrors },
            },
        },
        async (request) => found(await items.update(request.params.id, request.body), request.params.id),
    );

    app.delete(
        "/items/:id",
        {
            schema: {
                summary: "Delete an item",
                params: ItemIdParams,
                // A DELETE may carry a body, which is parsed (and ignored) like any other.
                response: { 204: Type.Null({ description: "Deleted." }), 404: error, ...bodyErrors },
            },
        },
        async (request, reply) => {
            if (!(await items.remove(request.params.id))) throw missing(request.params.id);
            return reply.code(204).send(null);
        },
    );
};
