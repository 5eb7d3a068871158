import { loadConfig } from './app.config';

const load = (env: NodeJS.ProcessEnv) => loadConfig({ NODE_ENV: 'test', DATA_DIR: '/tmp/unused', ...env });

describe('tracing configuration (OpenTelemetry variables)', () => {
  it('is off unless an OTLP endpoint is set', () => {
    expect(load({}).tracing).toBeNull();
    expect(load({ OTEL_SERVICE_NAME: 'x' }).tracing).toBeNull();
  });

  it('OTEL_EXPORTER_OTLP_ENDPOINT is a base URL to which /v1/traces is appended; the traces endpoint is taken whole', () => {
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({ tracesUrl: 'http://collector:4318/v1/traces', serviceName: 'key-service', exportDelayMs: 5000 });
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/otlp/traces' }).tracing?.tracesUrl).toBe('https://b/otlp/traces');
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SERVICE_NAME: 'keys-eu', OTEL_BSP_SCHEDULE_DELAY: '250' }).tracing).toMatchObject({ serviceName: 'keys-eu', exportDelayMs: 250 });
  });

  it('OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off again', () => {
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SDK_DISABLED: 'true' }).tracing).toBeNull();
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeNull();
  });

  it('a bad value stops start-up, naming the variable', () => {
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/^OTEL_EXPORTER_OTLP_ENDPOINT: must be an http or https URL/);
    expect(() => load({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x' })).toThrow(/^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: /);
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/^OTEL_EXPORTER_OTLP_PROTOCOL: must be http\/json/);
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/^OTEL_TRACES_EXPORTER: must be otlp or none/);
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_BSP_SCHEDULE_DELAY: 'soon' })).toThrow(/^OTEL_BSP_SCHEDULE_DELAY: /);
  });
});
