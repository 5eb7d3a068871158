import { callerRequestId, grpcRequestId } from './request-id';
import { peerAddress } from '../grpc/grpc-call';

describe('request ids', () => {
  it("a caller's well-formed id is kept; a malformed, over-long or secret-like one is not", () => {
    expect(callerRequestId('req-42.a_b')).toBe('req-42.a_b');
    expect(callerRequestId('a'.repeat(128))).toBe('a'.repeat(128));
    for (const refused of ['', 'a'.repeat(129), 'has space', 'é', undefined, 42, ['x'], 'mak_Nk-LJBRQy3U1pWBuNvCrysWF8kMfHnn9bUYmqXk_MLk', 'MAK_x', 'sk-ant-api03-abc', 'sk-proj-abc']) {
      expect([refused, callerRequestId(refused)]).toEqual([refused, null]);
    }
  });

  it("a gRPC call has one id for all who ask: the caller's when acceptable, else a new uuid", () => {
    const given = { get: (key: string) => (key === 'x-request-id' ? ['call-7'] : []) };
    expect(grpcRequestId(given)).toBe('call-7');
    const secretLike = { get: (key: string) => (key === 'x-request-id' ? ['mak_secret'] : []) };
    const made = grpcRequestId(secretLike);
    expect(made).toMatch(/^[0-9a-f-]{36}$/);
    expect(grpcRequestId(secretLike)).toBe(made);
  });

  it("a gRPC peer's address is recorded without its port, as HTTP's is", () => {
    expect(peerAddress('127.0.0.1:42928')).toBe('127.0.0.1');
    expect(peerAddress('ipv4:10.0.0.7:50051')).toBe('10.0.0.7');
    expect(peerAddress('[::1]:42928')).toBe('::1');
    expect(peerAddress('ipv6:[fd00::2]:1')).toBe('fd00::2');
    expect(peerAddress('unix:/tmp/s')).toBe('unix:/tmp/s');
    expect(peerAddress(undefined)).toBeNull();
  });
});
