/** What the probes and metrics report; server.ts moves it forward as start-up and shutdown progress. */
export interface AppState {
    /** Migrations have run (or were already applied) in this process. */
    schemaReady: boolean;
    /** SIGTERM arrived: /readyz answers 503 so the endpoint is taken out of rotation. */
    shuttingDown: boolean;
    /** The schema version this release needs; a newer database is fine (expand-then-contract migrations). */
    readonly requiredSchemaVersion: number;
}

export function createAppState(requiredSchemaVersion: number): AppState {
    return { schemaReady: false, shuttingDown: false, requiredSchemaVersion };
}
