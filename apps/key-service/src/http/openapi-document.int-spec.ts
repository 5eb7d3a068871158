import { TestApp, startTestApp } from '../../../../test/support/test-app';
import { MAX_OFFSET, MAX_PAGE, MAX_POSITION } from '../common/bounds';

type Operation = { operationId: string; parameters?: any[]; requestBody?: any; responses: Record<string, any>; security?: unknown[] };

/**
 * /openapi.json is the contract npm run test:fuzz holds the service to: it states what the server
 * enforces (formats, integers, bounds, patterns, closed bodies) and every status a route can answer.
 */
describe('the OpenAPI document', () => {
  let t: TestApp;
  let doc: any;
  let operations: Array<[string, string, Operation]>;

  beforeAll(async () => {
    t = await startTestApp();
    const { status, body } = await t.call('GET', '/openapi.json');
    expect(status).toBe(200);
    doc = body;
    operations = Object.entries(doc.paths).flatMap(([path, item]: [string, any]) =>
      Object.entries(item).map(([method, operation]) => [method, path, operation as Operation] as [string, string, Operation]),
    );
  });
  afterAll(() => t.close());

  const operation = (method: string, path: string) => doc.paths[path][method] as Operation;
  const parameter = (method: string, path: string, name: string) => operation(method, path).parameters!.find((p: any) => p.name === name);
  const schema = (name: string) => doc.components.schemas[name];

  it('gives every path parameter the rule its pipe or service checks: uuid format, pattern, enum', () => {
    const pathParameters = operations.flatMap(([method, path, op]) =>
      (op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => ({ at: `${method} ${path}`, name: p.name, schema: p.schema })),
    );
    expect(pathParameters.length).toBeGreaterThan(20);
    for (const { at, name, schema: rule } of pathParameters) {
      expect({ at, name, constrained: rule.format !== undefined || rule.pattern !== undefined || rule.enum !== undefined || rule.minLength !== undefined }).toEqual({
        at,
        name,
        constrained: true,
      });
      if (name === 'uuid') expect({ at, format: rule.format }).toEqual({ at, format: 'uuid' });
    }
    expect(parameter('delete', '/v2/gen-ai/models/api_keys/{uuid}/deployments/{deployment_name}', 'deployment_name').schema).toMatchObject({
      type: 'string',
      maxLength: 128,
      pattern: expect.any(String),
    });
  });

  it.each([
    ['get', '/v2/gen-ai/models/api_keys', 'page', 1, MAX_PAGE],
    ['get', '/v2/gen-ai/models/api_keys', 'per_page', 1, 200],
    ['get', '/v2/gen-ai/{provider}/keys', 'page', 1, MAX_PAGE],
    ['get', '/v2/gen-ai/{provider}/keys', 'per_page', 1, 200],
    ['get', '/cloud/v3/inference/{project_id}/api_keys', 'limit', 1, 1000],
    ['get', '/cloud/v3/inference/{project_id}/api_keys', 'offset', 0, MAX_OFFSET],
    ['get', '/v1/audit/events', 'after', 0, MAX_POSITION],
    ['get', '/v1/audit/events', 'limit', 1, 1000],
    ['get', '/v1/revocations', 'after', 0, MAX_POSITION],
    ['get', '/v1/revocations', 'limit', 1, 1000],
    ['get', '/v1/revocations/stream', 'after', 0, MAX_POSITION],
  ])('%s %s: %s is an integer from %d to %d', (method, path, name, minimum, maximum) => {
    expect(parameter(method, path, name).schema).toMatchObject({ type: 'integer', minimum, maximum });
    expect(maximum).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
  });

  it('states the rules of the validators on the bodies, and that unknown fields are refused', () => {
    expect(schema('CreateProviderKeyRequest').properties.api_key).toMatchObject({ type: 'string', minLength: 8, maxLength: 512, pattern: '^[\\x21-\\x7e]+$' });
    expect(schema('VerifyKeyRequest').properties.model).toMatchObject({ type: 'string', minLength: 1, maxLength: 200 });
    expect(schema('VerifyKeyRequest').properties.vpc_uuid).toMatchObject({ type: 'string', format: 'uuid', pattern: expect.stringContaining('[1-8]') });
    expect(schema('UpdateInferenceApiKeyRequest')).toMatchObject({ minProperties: 1 });
    expect(schema('UpdateInferenceApiKeyRequest').properties.deployment_names).toMatchObject({ maxItems: 100, uniqueItems: true, items: { pattern: expect.any(String) } });
    expect(schema('UpdateProviderKeyRequest').anyOf).toEqual([{ required: ['api_key'] }, { required: ['name'] }]);
    expect(schema('ConfirmNameRequest').properties.confirm_name).toMatchObject({ type: 'string', maxLength: 1024 });
    expect(schema('CreateKeyRequest').properties.vpc_uuid).toMatchObject({ type: 'string', format: 'uuid', nullable: true });
    expect(schema('CreateKeyRequest').properties.models.oneOf[1]).toMatchObject({ minItems: 1, maxItems: 500, items: { minLength: 1, maxLength: 200 } });
    for (const [method, path, op] of operations) {
      const ref: string | undefined = op.requestBody?.content['application/json']?.schema?.$ref;
      if (ref) expect({ at: `${method} ${path}`, additionalProperties: schema(ref.split('/').pop()!).additionalProperties }).toEqual({ at: `${method} ${path}`, additionalProperties: false });
    }
  });

  it('documents every status a route can answer, each error with the error body', () => {
    for (const [method, path, op] of operations) {
      const statuses = Object.keys(op.responses);
      const at = `${method.toUpperCase()} ${path}`;
      const expected = [
        ...(op.security ? ['400', '401', '403'] : []),
        ...((op.parameters ?? []).some((p: any) => p.in === 'path') ? ['404'] : []),
        ...(op.requestBody ? ['413', '415'] : []),
        ...(method !== 'get' && op.operationId !== 'VerifyKey' ? ['409', '503'] : []),
      ];
      expect({ at, missing: expected.filter((s) => !statuses.includes(s)) }).toEqual({ at, missing: [] });
      for (const [status, answer] of Object.entries(op.responses)) {
        if (Number(status) >= 400 && path !== '/readyz') {
          expect({ at, status, schema: answer.content?.['application/json']?.schema }).toEqual({
            at,
            status,
            schema: { $ref: '#/components/schemas/ErrorResponse' },
          });
        }
      }
    }
    expect(Object.keys(operation('get', '/readyz').responses).sort()).toEqual(['200', '503']);
    expect(Object.keys(operation('post', '/v2/gen-ai/{provider}/keys').responses)).toEqual(expect.arrayContaining(['409', '422', '502']));
    expect(Object.keys(operation('put', '/v2/gen-ai/models/api_keys/{uuid}/regenerate').responses)).toEqual(expect.arrayContaining(['404', '409', '412', '422']));
    expect(operation('get', '/v1/audit/keys/{uuid}/state').responses['200'].content['application/json'].schema.$ref).toContain('KeyStateResponse');
    expect(operation('get', '/v2/gen-ai/{provider}/keys').responses['200'].content['application/json'].schema.$ref).toContain('ProviderKeyInfoPage');
    expect(operation('get', '/v2/gen-ai/{provider}/keys').parameters!.map((p: any) => p.name)).not.toContain('view');
  });

  it('describes the revocation stream event by event, and its Last-Event-ID header', () => {
    const stream = operation('get', '/v1/revocations/stream');
    expect(stream.responses['200'].content['text/event-stream'].schema).toMatchObject({
      type: 'object',
      properties: { event: { enum: ['revocation', 'heartbeat', 'end'] }, data: { contentMediaType: 'application/json' } },
    });
    expect(stream.responses['400'].content['application/json']).toBeDefined();
    expect(parameter('get', '/v1/revocations/stream', 'Last-Event-ID')).toMatchObject({ in: 'header', schema: { type: 'integer', minimum: 0, maximum: MAX_POSITION } });
  });

  it('links a created key to the routes that read, change and delete it', () => {
    const links = operation('post', '/v2/gen-ai/models/api_keys').responses['200'].links;
    expect(links.GetKey).toEqual({ operationId: 'GetKeyHttpController_get', parameters: { uuid: '$response.body#/api_key_info/uuid' } });
    expect(Object.keys(links)).toEqual(expect.arrayContaining(['RenameKey', 'RegenerateKey', 'DeleteKey', 'AttachDeployment']));
    const operationIds = new Set(operations.map(([, , op]) => op.operationId));
    for (const [, , op] of operations) {
      for (const answer of Object.values(op.responses)) {
        for (const link of Object.values((answer.links ?? {}) as Record<string, { operationId: string }>)) expect(operationIds).toContain(link.operationId);
      }
    }
  });
});
