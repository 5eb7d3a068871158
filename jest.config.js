/** Three tiers, named by suffix: *.spec.ts (pure), *.int-spec.ts (Nest module on a real SQLite store), *.e2e-spec.ts (the started process). */
const base = {
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true, diagnostics: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testEnvironment: 'node',
  moduleNameMapper: {
    '^@lib/event-store(|/.*)$': '<rootDir>/libs/event-store/src$1',
    '^@lib/contracts(|/.*)$': '<rootDir>/libs/contracts/src$1',
  },
};
module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/{apps,libs}/**/*.int-spec.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'], testTimeout: 120000 },
  ],
};
