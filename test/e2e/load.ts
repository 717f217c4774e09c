/**
 * A bounded, steady request load for the real-node tier: a fixed rate for a fixed time, every
 * failure counted with its cause. Used while the API rolls or loses a pod, where the assertion is
 * "0 failed requests".
 */

export interface LoadResult {
    readonly sent: number;
    readonly failed: number;
    /** The first few failures, e.g. "503 GET /api/v1/items" or "ECONNREFUSED". */
    readonly failures: readonly string[];
}

export interface Load {
    /** Stops sending, waits for requests in flight, and reports. */
    stop(): Promise<LoadResult>;
}

/**
 * Starts sending `ratePerSecond` requests to `baseUrl` until stopped or `maxSeconds` pass: creates
 * an item, then reads it back, alternately.
 */
export function startLoad(baseUrl: string, ratePerSecond = 20, maxSeconds = 120): Load {
    let sent = 0;
    let failed = 0;
    const failures: string[] = [];
    const inFlight = new Set<Promise<void>>();
    let lastId: string | undefined;
    const fail = (what: string) => {
        failed++;
        if (failures.length < 10) {
            failures.push(what);
        }
    };
    const one = async () => {
        sent++;
        const read = lastId !== undefined && sent % 2 === 0;
        const url = read ? `${baseUrl}/api/v1/items/${lastId}` : `${baseUrl}/api/v1/items`;
        try {
            const response = await fetch(url, {
                method: read ? "GET" : "POST",
                headers: read ? {} : { "content-type": "application/json" },
                body: read ? undefined : JSON.stringify({ name: `load-${sent}` }),
                signal: AbortSignal.timeout(5000),
            });
            const body = await response.text();
            if (!response.ok) {
                fail(`${response.status} ${read ? "GET" : "POST"} ${url}: ${body.slice(0, 120)}`);
            } else if (!read) {
                lastId = String(JSON.parse(body).id);
            }
        } catch (error) {
            fail(`${read ? "GET" : "POST"} ${url}: ${String((error as Error).cause ?? error)}`);
        }
    };
    const started = Date.now();
    const timer = setInterval(() => {
        if (Date.now() - started > maxSeconds * 1000) {
            clearInterval(timer);
            return;
        }
        const request = one().finally(() => inFlight.delete(request));
        inFlight.add(request);
    }, 1000 / ratePerSecond);
    return {
        async stop() {
            clearInterval(timer);
            await Promise.all([...inFlight]);
            return { sent, failed, failures };
        },
    };
}
