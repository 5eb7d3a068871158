import { CanActivate, ExecutionContext, Injectable, SetMetadata, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../common/domain-error';
import { Principal, Role } from './principal';
import { CallerAuthentication, verifiedPeerCertificate } from './caller-authentication';
import { TokenSession } from './token.service';

const ALLOWED_ROLES = 'allowedRoles';
/** The roles that may call a controller's routes at all; finer rules live in the domain policy. */
export const AllowRoles = (...roles: Role[]) => SetMetadata(ALLOWED_ROLES, roles);

/** principal: who is calling; session: with until when (a stream must end then). */
export type AuthenticatedRequest = FastifyRequest & { principal?: Principal; session?: TokenSession };

@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly authentication: CallerAuthentication,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const session = await this.authentication.session(request.headers.authorization, verifiedPeerCertificate(request.raw.socket));
    const principal = session.principal;
    const allowed = this.reflector.getAllAndOverride<Role[] | undefined>(ALLOWED_ROLES, [context.getHandler(), context.getClass()]);
    if (allowed && !allowed.includes(principal.role)) {
      throw new DomainError('FORBIDDEN', `role ${principal.role} may not call this route`);
    }
    request.principal = principal;
    request.session = session;
    return true;
  }
}

export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new DomainError('UNAUTHENTICATED', 'missing bearer token');
  return principal;
});
