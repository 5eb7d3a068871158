import { randomBytes } from 'node:crypto';
import { freshDatabase, query } from '../../../../test/support/postgres';
import { ConfigError } from '../config/app.config';
import { LocalKeyWrapper } from './local.key-wrapper';
import { PostgresDataKeyStore } from './postgres.data-key.store';

describe('the PostgreSQL data-key store', () => {
  const master = randomBytes(32);

  it('shares data keys between instances, deletes them for all, and keeps no plaintext key', async () => {
    const url = await freshDatabase();
    const one = await PostgresDataKeyStore.open(url, new LocalKeyWrapper(master));
    const two = await PostgresDataKeyStore.open(url, new LocalKeyWrapper(master));
    const dataKey = randomBytes(32);
    const wrapped = await new LocalKeyWrapper(master).wrap(dataKey, 'ctx');
    await one.put('dk-1', 'owner-1', wrapped, new Date().toISOString());
    expect(await two.get('dk-1')).toBe(wrapped);
    expect((await two.all()).map((row) => row.id)).toEqual(['dk-1']);
    await two.destroy('dk-1');
    expect(await one.get('dk-1')).toBeNull();
    const rows = await query<{ text: string }>(url, 'SELECT wrapped AS text FROM data_keys UNION ALL SELECT wrapped FROM master_key_check');
    for (const row of rows) expect(row.text).not.toContain(dataKey.toString('base64'));
    await one.close();
    await two.close();
  });

  it('instances starting together on an empty database: all open with one master key, and of two master keys only one is accepted', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresDataKeyStore.open(url, new LocalKeyWrapper(master))));
    await Promise.all(stores.map((store) => store.close()));
    const other = await freshDatabase();
    const keys = [randomBytes(32), randomBytes(32)];
    const opened = await Promise.allSettled(keys.map((key) => PostgresDataKeyStore.open(other, new LocalKeyWrapper(key))));
    expect(opened.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of opened) if (o.status === 'fulfilled') await o.value.close();
  });

  it('refuses a master key that is not the one its data keys were wrapped with', async () => {
    const url = await freshDatabase();
    await (await PostgresDataKeyStore.open(url, new LocalKeyWrapper(master))).close();
    const wrong = PostgresDataKeyStore.open(url, new LocalKeyWrapper(randomBytes(32)));
    await expect(wrong).rejects.toBeInstanceOf(ConfigError);
    await expect(wrong).rejects.toThrow(/KEY_ENCRYPTION_KEY: is not the master key the data in the database at DATABASE_URL=/);
    await (await PostgresDataKeyStore.open(url, new LocalKeyWrapper(master))).close();
  });
});
