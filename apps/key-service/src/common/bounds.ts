import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/**
 * The bounds of every number a client sends. Each one reaches SQL (LIMIT, OFFSET, a position), and
 * SQLite binds a JavaScript number as an INTEGER only while it is a safe integer: past 2^53 it becomes
 * a REAL ("datatype mismatch" in LIMIT/OFFSET), so every bound keeps offsets and positions below that.
 */
export const MAX_POSITION = Number.MAX_SAFE_INTEGER;
/** A million pages of at most 200 keys: far past any team's keys, and (page - 1) × per_page stays small. */
export const MAX_PAGE = 1_000_000;
/** Gcore's offset: a billion keys into a project's list, far past any project. */
export const MAX_OFFSET = 1_000_000_000;

const DECIMAL_INTEGER = /^-?\d{1,20}$/;

/**
 * An optional integer of a query string (or of a gRPC message, already a number): only decimal digits
 * are read as a number, so `1e20`, `0x10`, `1.5` or an empty value stay strings and fail `IsInt`, and
 * an integer out of [minimum, maximum] fails `Min`/`Max`. Each answers 400 naming the field. The OpenAPI
 * document says the same (type integer, minimum, maximum).
 */
export function IntegerField(options: { minimum: number; maximum: number; default: number; description?: string }) {
  return applyDecorators(
    ApiPropertyOptional({ type: 'integer', minimum: options.minimum, maximum: options.maximum, default: options.default, description: options.description }),
    IsOptional(),
    Transform(({ value }) => (typeof value === 'string' && DECIMAL_INTEGER.test(value) ? Number(value) : value)),
    IsInt(),
    Min(options.minimum),
    Max(options.maximum),
  );
}
