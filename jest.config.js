/**
 * Tiers, named by suffix: *.spec.ts (pure), *.int-spec.ts (Nest module on a real SQLite store),
 * *.e2e-spec.ts (the started processes), *.kafka-spec.ts (the started processes and a real Kafka broker),
 * *.browser-spec.ts (the started service driven through the console in Chromium), *.pg-spec.ts (a real PostgreSQL server), *.redis-spec.ts (a real Redis server), *.fleet-spec.ts (three instances on PostgreSQL and Kafka), *.kurrentdb-spec.ts (a KurrentDB server, when one is configured).
 */
const base = {
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
    // content-disposition 3 (under @fastify/static), jose 6 and canonicalize 4 (a test's reference) ship only ESM: Node 20.19+ requires them natively, Jest needs them transpiled.
    '^.+/node_modules/(content-disposition|jose|canonicalize)/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true }, diagnostics: false }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(content-disposition|jose|canonicalize)/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testEnvironment: 'node',
  moduleNameMapper: {
    '^@lib/event-store(|/.*)$': '<rootDir>/libs/event-store/src$1',
    '^@lib/contracts(|/.*)$': '<rootDir>/libs/contracts/src$1',
    '^@lib/gateway-client(|/.*)$': '<rootDir>/libs/gateway-client/src$1',
    // canonicalize 4 exports only an "import" condition, which Jest's CommonJS resolver does not take.
    '^canonicalize$': '<rootDir>/node_modules/canonicalize/lib/canonicalize.js',
  },
};
module.exports = {
  testTimeout: 120000,
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/{apps,libs}/**/*.int-spec.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
    // The console in Debian's Chromium against the started service: npm run test:browser (scripts/test-browser.sh).
    { ...base, displayName: 'browser', testMatch: ['<rootDir>/test/browser/*.browser-spec.ts'] },
    // Against a real Kafka broker: npm run test:kafka starts one (scripts/kafka.sh) and sets KAFKA_BROKERS.
    { ...base, displayName: 'kafka', testMatch: ['<rootDir>/test/**/*.kafka-spec.ts'] },
    // Against a real PostgreSQL server: npm run test:postgres starts one (scripts/postgres.sh) and sets DATABASE_URL.
    { ...base, displayName: 'postgres', testMatch: ['<rootDir>/{apps,libs,test}/**/*.pg-spec.ts'] },
    // Against a real Redis server: npm run test:redis starts one (scripts/redis.sh) and sets RATE_LIMIT_REDIS_URL.
    { ...base, displayName: 'redis', testMatch: ['<rootDir>/{apps,libs,test}/**/*.redis-spec.ts'] },
    // Three service instances and two gateways on one real PostgreSQL and a real Kafka broker: npm run test:fleet starts both.
    { ...base, displayName: 'fleet', testMatch: ['<rootDir>/test/**/*.fleet-spec.ts'] },
    // Against a KurrentDB server named by KURRENTDB_CONNECTION_STRING: npm run test:kurrentdb.
    { ...base, displayName: 'kurrentdb', testMatch: ['<rootDir>/{apps,libs,test}/**/*.kurrentdb-spec.ts'] },
  ],
};
