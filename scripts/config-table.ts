/**
 * Prints the README's table of config keys: every key declared in Pulumi.yaml with its
 * description and its value in each committed stack. A unit test checks that the README holds
 * exactly this table, so the documentation cannot drift from the config.
 *
 * Usage: ts-node scripts/config-table.ts
 */
import { configTable } from "../test/unit/config-table";

console.log(configTable());
