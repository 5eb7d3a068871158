import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { OperationObject, ParameterObject, ReferenceObject, ResponseObject, SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import { ADDRESSABLE_NAME_PATTERN, NAME_MAX_LENGTH } from '../keys/domain/key-input.rules';
import { ErrorResponse } from '../keys/shared/api-key-info.response';
import { IDEMPOTENCY_KEY } from '../keys/shared/idempotency.service';
import { DEPLOYMENT_NAME } from '../keys/shared/key-request.validators';
import { VerifyKeyRequest, VerifyKeyResponse } from '../verification/verify-key.request.dto';
import { documentVerifyRoute } from '../verification/verify-key.route';

/**
 * /openapi.json: what the controllers and DTOs declare, completed with what the validators enforce and
 * the answers every route of a kind can give, so that the document is the contract a schema-driven
 * client (npm run test:fuzz runs Schemathesis against it) can hold the service to.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Model key service')
      .setDescription('Event-sourced model access keys: DigitalOcean-compatible paths and shapes, with our fields alongside.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
    { extraModels: [VerifyKeyRequest, VerifyKeyResponse, ErrorResponse] },
  );
  documentVerifyRoute(document);
  stateValidatorRules(document);
  documentBodyRules(document);
  documentParameters(document);
  documentCommonAnswers(document);
  documentLinks(document);
  return document;
}

/**
 * Path parameters are read by pipes and services, not by DTOs: their rules are stated here, each from
 * the constant the server checks with. A value outside them answers 400 (uuid, deployment_name) or 404.
 */
const PATH_PARAMETERS: Readonly<Record<string, SchemaObject>> = {
  uuid: { type: 'string', format: 'uuid' },
  agent_uuid: { type: 'string', format: 'uuid' },
  deployment_name: { type: 'string', pattern: DEPLOYMENT_NAME.source, maxLength: 128 },
  api_key_name: { type: 'string', pattern: ADDRESSABLE_NAME_PATTERN, minLength: 1, maxLength: NAME_MAX_LENGTH },
  project_id: { type: 'string', minLength: 1, description: "The caller's team; another project is a 404" },
};

/** Headers read by the handlers; a value outside the rule answers 400. */
const HEADER_PARAMETERS: Readonly<Record<string, SchemaObject>> = {
  'Idempotency-Key': { type: 'string', pattern: IDEMPOTENCY_KEY.source },
  // A header value is bytes, read as Latin-1 (RFC 9110, 5.5): a name with other characters is confirmed with confirm_name in the body.
  'X-Confirm-Name': { type: 'string', pattern: '^[\\t\\x20-\\x7e\\x80-\\xff]*$' },
};

function documentParameters(document: OpenAPIObject): void {
  for (const operation of operationsOf(document)) {
    for (const parameter of (operation.parameters ?? []) as ParameterObject[]) {
      const rule = parameter.in === 'path' ? PATH_PARAMETERS[parameter.name] : parameter.in === 'header' ? HEADER_PARAMETERS[parameter.name] : undefined;
      if (rule) parameter.schema = { ...(parameter.schema as SchemaObject), ...rule };
    }
  }
}

/** Rules on a body as a whole, which the services check after the fields (400 naming `body`). */
const BODY_RULES: Readonly<Record<string, SchemaObject>> = {
  // "give at least one of description, expires_at, deployment_names"
  UpdateInferenceApiKeyRequest: { minProperties: 1 },
  // "give api_key, name or both": api_key_uuid alone changes nothing
  UpdateProviderKeyRequest: { anyOf: [{ required: ['api_key'] }, { required: ['name'] }] },
  // Nested in bodies, so not reached by documentBodyRules: unknown fields are refused there too.
  KeyLimitsRequest: { additionalProperties: false },
  UsageRecordRequest: { additionalProperties: false },
  UsageDenialsRequest: { additionalProperties: false },
  // "a quota gives requests, tokens or both" (not null)
  KeyQuotaRequest: {
    additionalProperties: false,
    anyOf: [
      { required: ['requests'], properties: { requests: { type: 'integer' } } },
      { required: ['tokens'], properties: { tokens: { type: 'integer' } } },
    ],
  },
};

/** Unknown fields are refused (400) on every body: the ValidationPipe's forbidNonWhitelisted, and the verify route's own check. */
function documentBodyRules(document: OpenAPIObject): void {
  for (const operation of operationsOf(document)) {
    const body = operation.requestBody && !('$ref' in operation.requestBody) ? operation.requestBody.content['application/json']?.schema : undefined;
    const name = body && '$ref' in body ? body.$ref.replace('#/components/schemas/', '') : undefined;
    const schema = name ? (document.components?.schemas?.[name] as SchemaObject | undefined) : undefined;
    if (schema) schema.additionalProperties = false;
  }
  for (const [name, rule] of Object.entries(BODY_RULES)) {
    const schema = document.components?.schemas?.[name];
    if (!schema) throw new Error(`the OpenAPI document has no schema ${name}`);
    Object.assign(schema, rule);
  }
}

/**
 * What a client can do next with what an answer holds (OpenAPI links): the stateful phase of the fuzz
 * run follows them, from a created key to reading, changing and deleting it.
 */
const LINKS: ReadonlyArray<{ from: string; status: string; to: Record<string, { operationId: string; parameters: Record<string, string> }> }> = [
  (() => {
    const key = { uuid: '$response.body#/api_key_info/uuid' };
    return {
      from: 'CreateKeyHttpController_create',
      status: '200',
      to: {
        GetKey: { operationId: 'GetKeyHttpController_get', parameters: key },
        RenameKey: { operationId: 'RenameKeyHttpController_rename', parameters: key },
        RegenerateKey: { operationId: 'RegenerateKeyHttpController_regenerate', parameters: key },
        AttachDeployment: { operationId: 'DeploymentsHttpController_attach', parameters: key },
        DeleteKey: { operationId: 'DeleteKeyHttpController_delete', parameters: key },
        KeyEvents: { operationId: 'AuditHttpController_keyEvents', parameters: key },
        KeyState: { operationId: 'AuditHttpController_keyState', parameters: key },
      },
    };
  })(),
  {
    from: 'DeploymentsHttpController_attach',
    status: '200',
    to: {
      DetachDeployment: {
        operationId: 'DeploymentsHttpController_detach',
        parameters: { uuid: '$request.path.uuid', deployment_name: '$request.body#/deployment_name' },
      },
    },
  },
  (() => {
    const key = { project_id: '$request.path.project_id', api_key_name: '$response.body#/name' };
    return {
      from: 'InferenceApiKeysHttpController_create',
      status: '201',
      to: {
        GetInferenceKey: { operationId: 'InferenceApiKeysHttpController_get', parameters: key },
        UpdateInferenceKey: { operationId: 'InferenceApiKeysHttpController_update', parameters: key },
        DeleteInferenceKey: { operationId: 'InferenceApiKeysHttpController_delete', parameters: key },
      },
    };
  })(),
  (() => {
    const key = { provider: '$request.path.provider', uuid: '$response.body#/api_key_info/uuid' };
    return {
      from: 'ProviderKeysHttpController_create',
      status: '200',
      to: {
        GetProviderKey: { operationId: 'ProviderKeysHttpController_get', parameters: key },
        UpdateProviderKey: { operationId: 'ProviderKeysHttpController_update', parameters: key },
        DeleteProviderKey: { operationId: 'ProviderKeysHttpController_delete', parameters: key },
        ListProviderKeyAgents: { operationId: 'ProviderKeyAgentsHttpController_list', parameters: key },
      },
    };
  })(),
];

function documentLinks(document: OpenAPIObject): void {
  const operations = new Map(operationsOf(document).map((operation) => [operation.operationId, operation]));
  for (const link of LINKS) {
    const answer = operations.get(link.from)?.responses[link.status] as ResponseObject | undefined;
    if (!answer) throw new Error(`the OpenAPI document has no answer ${link.status} of ${link.from}`);
    for (const target of Object.values(link.to)) {
      if (!operations.has(target.operationId)) throw new Error(`the OpenAPI document has no operation ${target.operationId}`);
    }
    answer.links = { ...answer.links, ...link.to };
  }
}

const error = (description: string): ResponseObject => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
});

/**
 * Answers that depend on the kind of request, not on the route: a path names something that may not
 * exist (or that the caller may not see); a body can be too large (Fastify's 256 KiB limit) or not
 * JSON; a write is appended to the event store, which may refuse it for a concurrent change of the same
 * stream (after the bounded retries) or because it cannot store now. A route that documents one of
 * these statuses itself keeps its own description.
 */
function documentCommonAnswers(document: OpenAPIObject): void {
  for (const [method, operation] of operationsByMethod(document)) {
    const answers: Record<string, ResponseObject> = {};
    if (((operation.parameters ?? []) as ParameterObject[]).some((parameter) => parameter.in === 'path')) {
      answers['404'] = error('The path names nothing the caller may see (its existence is not revealed)');
    }
    if (operation.requestBody) {
      answers['413'] = error('The body is larger than 256 KiB');
      answers['415'] = error('The body is not JSON (Content-Type: application/json)');
    }
    if (method !== 'get' && operation.operationId !== 'VerifyKey') {
      answers['409'] = error('A conflict with the current state (the code says which), or a concurrent change that kept conflicting: retry');
      answers['503'] = error('The store cannot take writes now (code STORE_UNAVAILABLE, e.g. a full disk); retry after Retry-After');
    }
    for (const [status, answer] of Object.entries(answers)) operation.responses[status] ??= answer;
  }
}

/**
 * The rules of class-validator's decorators on every DTO that is a schema of the document (request
 * bodies), as JSON Schema keywords: what the ValidationPipe refuses is what the document excludes.
 * A keyword the DTO documents itself (ApiProperty) is kept; custom validators document themselves.
 */
function stateValidatorRules(document: OpenAPIObject): void {
  const schemas = document.components?.schemas ?? {};
  const storage = getMetadataStorage() as unknown as { validationMetadatas: Map<Function, ValidationMetadata[]> };
  for (const target of storage.validationMetadatas.keys()) {
    const schema = schemas[target.name] as SchemaObject | undefined;
    if (!schema?.properties) continue;
    for (const rule of getMetadataStorage().getTargetValidationMetadatas(target, '', true, false)) {
      const property = schema.properties[rule.propertyName] as SchemaObject | ReferenceObject | undefined;
      if (!property || '$ref' in property || property.oneOf || property.anyOf || property.allOf) continue;
      const subject = rule.each ? (property.items as SchemaObject | undefined) : property;
      if (subject && !('$ref' in subject)) applyRule(subject, rule);
    }
  }
}

function applyRule(schema: SchemaObject, rule: ValidationMetadata): void {
  const [first, second] = (rule.constraints ?? []) as unknown[];
  const set = (keyword: keyof SchemaObject, value: unknown) => {
    if (value !== undefined && schema[keyword] === undefined) (schema as Record<string, unknown>)[keyword] = value;
  };
  // A union type (`string | null`) reaches the document without a type, or as `object`.
  const typed = (type: 'string' | 'boolean' | 'integer') => {
    if (schema.type === undefined || schema.type === 'object') schema.type = type;
  };
  switch (rule.name) {
    case 'isString':
    case 'matches':
      typed('string');
      if (rule.name === 'matches') {
        // Only flagless patterns read the same in ECMA-262 and in a JSON Schema validator.
        if (first instanceof RegExp && first.flags === '') set('pattern', first.source);
        else if (typeof first === 'string' && !second) set('pattern', first);
      }
      break;
    case 'isBoolean':
      typed('boolean');
      break;
    case 'isLength':
      set('minLength', first);
      set('maxLength', second);
      break;
    case 'minLength':
      set('minLength', first);
      break;
    case 'maxLength':
      set('maxLength', first);
      break;
    case 'isUuid':
      typed('string');
      set('format', 'uuid');
      // IsUUID() without a version takes RFC 9562's versions 1-8 (and the nil and max uuids), not any 32 hex digits.
      if (first === undefined) set('pattern', RFC_9562_UUID);
      break;
    case 'isInt':
      schema.type = 'integer';
      break;
    case 'min':
      set('minimum', first);
      break;
    case 'max':
      set('maximum', first);
      break;
    case 'arrayMinSize':
      set('minItems', first);
      break;
    case 'arrayMaxSize':
      set('maxItems', first);
      break;
    case 'arrayUnique':
      set('uniqueItems', true);
      break;
    case 'isIn':
      set('enum', first);
      break;
  }
}

/** validator.js's isUUID(value, 'all'), which class-validator's IsUUID() runs, without its `i` flag. */
const RFC_9562_UUID =
  '^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|[fF]{8}-[fF]{4}-[fF]{4}-[fF]{4}-[fF]{12})$';

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

function operationsByMethod(document: OpenAPIObject): Array<[string, OperationObject]> {
  return Object.values(document.paths).flatMap((item) =>
    METHODS.filter((method) => item[method]).map((method): [string, OperationObject] => [method, item[method]!]),
  );
}

function operationsOf(document: OpenAPIObject): OperationObject[] {
  return operationsByMethod(document).map(([, operation]) => operation);
}
