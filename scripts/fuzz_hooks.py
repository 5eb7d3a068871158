"""Schemathesis hooks for npm run test:fuzz (scripts/fuzz.js loads this file through SCHEMATHESIS_HOOKS).

A rename (PUT /v2/gen-ai/models/api_keys/{uuid}) and a provider-key update
(PUT /v2/gen-ai/{provider}/keys/{uuid}) may repeat the path's uuid in the body as `api_key_uuid`, as
DigitalOcean's clients do, and a different uuid there is refused with 400. JSON Schema cannot say
"equal to the path parameter", so right before such a request is sent (when the stateful phase has
filled the path from a link), a well-formed `api_key_uuid` in the body is made the path's: the request
then means what the document says it means. Where the path's uuid is one the body may not hold (the
path takes any 32 hex digits, the body RFC 9562's versions), the optional field is left out instead.
A malformed `api_key_uuid` is left as it is, to be refused.

An `expires_at` must also be in the future (422 otherwise), which no schema can say either. Left to
chance, nearly every generated expiry has passed, creates fail, and the stateful phase never gets a key
to follow its links with. So a generated expiry's year becomes 2096 (a leap year, so that 02-29 stays a
date) before the request is sent; the past-expiry 422 is covered by the integration specs.
"""
import re

import schemathesis

# class-validator's IsUUID(): RFC 9562 versions 1-8, or the nil and max uuids.
BODY_UUID = re.compile(
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    r"|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$",
    re.IGNORECASE,
)


PAST_YEAR = re.compile(r"^(\d{4})-")
FUTURE_YEAR = 2096


@schemathesis.hook
def before_call(context, case, **kwargs):
    body = case.body
    if not isinstance(body, dict):
        return
    expires_at = body.get("expires_at")
    if isinstance(expires_at, str) and (year := PAST_YEAR.match(expires_at)) and int(year.group(1)) < FUTURE_YEAR:
        body["expires_at"] = f"{FUTURE_YEAR}{expires_at[4:]}"
    if not isinstance(body.get("api_key_uuid"), str) or not BODY_UUID.match(body["api_key_uuid"]):
        return
    path_uuid = (case.path_parameters or {}).get("uuid")
    if isinstance(path_uuid, str) and BODY_UUID.match(path_uuid):
        body["api_key_uuid"] = path_uuid
    else:
        del body["api_key_uuid"]
