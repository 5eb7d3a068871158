import { Client } from 'pg';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';

/** The suites run against PostgreSQL when `EVENT_STORE=postgres` (npm run test:postgres sets it). */
export const usesPostgres = (env: NodeJS.ProcessEnv = process.env): boolean => env.EVENT_STORE === 'postgres';

/** The server's own URL, as scripts/postgres.sh printed it: each test makes its own database there. */
export function adminUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run this suite with npm run test:postgres, which starts a server');
  return url;
}

/** A database of its own on the test server (created if missing): one per test store, so tests never share events. */
export async function ensureDatabase(name: string): Promise<string> {
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

export const freshDatabase = () => ensureDatabase(`t_${randomBytes(6).toString('hex')}`);

/** The same name for the same DATA_DIR, so that a restarted service finds its events again. */
export const databaseFor = (dataDir: string) => ensureDatabase(`t_${path.basename(dataDir).toLowerCase().replace(/[^a-z0-9]/g, '_')}`);

export async function query<T extends object = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
