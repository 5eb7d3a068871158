import { FormEvent, useCallback, useEffect, useState } from 'react';
import { Button, Cell, Column, Form, Input, Label, Row, Table, TableBody, TableHeader, Text, TextField } from 'react-aria-components';
import { AuditEvent, KeyChain, KeyStateAt, auditApi } from '../api';
import { ErrorNotice } from '../ErrorNotice';
import { Session } from '../session';

const PAGE = 25;
const EXPORT_PAGE = 1000;

const actorOf = (event: AuditEvent) => {
  const actor = event.metadata?.actor;
  return actor?.userId ? `${actor.userId}${actor.role ? ` (${actor.role})` : ''}` : '—';
};
/**
 * The model access key an event belongs to, whose timeline the audit routes serve; null for other
 * streams (provider keys, names), which have no timeline route.
 */
const keyUuidOf = (event: AuditEvent) =>
  event.stream_id.startsWith('model_access_key-') && typeof event.data?.keyUuid === 'string' ? event.data.keyUuid : null;

/** Audit, for owners and auditors: the team's event log, a key's timeline, and the key at a point in time. */
export function AuditPage({ session }: { session: Session }) {
  const [keyUuid, setKeyUuid] = useState('');
  const [shownKey, setShownKey] = useState<string | null>(null);
  const openTimeline = (uuid: string) => {
    setKeyUuid(uuid);
    setShownKey(uuid);
  };
  return (
    <>
      <h1>Audit</h1>
      <section className="card" aria-labelledby="timeline-title">
        <h2 id="timeline-title">Key timeline</h2>
        <Form
          className="inline-form"
          onSubmit={(event: FormEvent) => {
            event.preventDefault();
            if (keyUuid.trim()) setShownKey(keyUuid.trim());
          }}
        >
          <TextField className="field grow" value={keyUuid} onChange={setKeyUuid} isRequired>
            <Label>Key uuid</Label>
            <Input autoComplete="off" spellCheck={false} />
          </TextField>
          <Button className="button primary" type="submit">
            Show timeline
          </Button>
        </Form>
        {shownKey ? <KeyTimeline key={shownKey} token={session.token} uuid={shownKey} /> : <p className="hint">Pick a key from the event log below, or paste its uuid.</p>}
      </section>
      <EventLog token={session.token} onTimeline={openTimeline} />
    </>
  );
}

function KeyTimeline({ token, uuid }: { token: string; uuid: string }) {
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [asOf, setAsOf] = useState('');
  const [state, setState] = useState<KeyStateAt | null>(null);
  const [stateError, setStateError] = useState<unknown>(null);
  const [chain, setChain] = useState<KeyChain | null>(null);
  const [chainError, setChainError] = useState<unknown>(null);

  useEffect(() => {
    auditApi.keyEvents(token, uuid).then(
      (answer) => setEvents(answer.events),
      (failure) => setError(failure),
    );
    auditApi.keyChain(token, uuid).then(setChain, setChainError);
  }, [token, uuid]);

  const showState = async (instant: string) => {
    setAsOf(instant);
    setStateError(null);
    try {
      setState(await auditApi.keyState(token, uuid, instant));
    } catch (failure) {
      setState(null);
      setStateError(failure);
    }
  };

  if (error) return <ErrorNotice error={error} />;
  if (events === null) return <p className="hint">Loading…</p>;
  return (
    <>
      <ErrorNotice error={chainError} />
      {chain ? (
        <p className={chain.intact ? 'chain ok' : 'chain broken'} data-testid="chain">
          {chain.intact ? (
            <>
              Hash chain intact: {chain.events} events, every hash recomputed by the service and every link checked. Head <code>{chain.head_hash}</code>
            </>
          ) : (
            <>Hash chain broken: {chain.broken?.message}</>
          )}
        </p>
      ) : null}
      <div className="table-scroll">
        <Table aria-label={`Timeline of ${uuid}`} className="table audit-table">
          <TableHeader>
            <Column isRowHeader className="column">
              Event
            </Column>
            <Column className="column">Recorded</Column>
            <Column className="column">Actor</Column>
            <Column className="column">Source</Column>
            <Column className="column">Hash</Column>
            <Column className="column">
              <span className="visually-hidden">Point in time</span>
            </Column>
          </TableHeader>
          <TableBody items={events} renderEmptyState={() => 'No events.'}>
            {(event) => (
              <Row id={event.position} className="row">
                <Cell className="cell" data-label="Event">
                  <strong>{event.type}</strong>
                  <div className="muted small">revision {event.revision}</div>
                </Cell>
                <Cell className="cell" data-label="Recorded">
                  <time dateTime={event.recorded_at}>{event.recorded_at}</time>
                </Cell>
                <Cell className="cell" data-label="Actor">
                  {actorOf(event)}
                </Cell>
                <Cell className="cell" data-label="Source">
                  <div>IP {event.metadata?.sourceIp ?? '—'}</div>
                  <div className="muted small ua">{event.metadata?.userAgent ?? '—'}</div>
                </Cell>
                <Cell className="cell" data-label="Hash">
                  <div className="hash">
                    hash <code>{event.hash}</code>
                  </div>
                  <div className="hash muted">
                    previous <code>{event.prev_hash ?? 'none (first event)'}</code>
                  </div>
                </Cell>
                <Cell className="cell">
                  <Button className="button" onPress={() => showState(event.recorded_at)} aria-label={`Key as of ${event.type} at ${event.recorded_at}`}>
                    As of this event
                  </Button>
                </Cell>
              </Row>
            )}
          </TableBody>
        </Table>
      </div>
      <Form
        className="inline-form"
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          if (asOf.trim()) void showState(asOf.trim());
        }}
      >
        <TextField className="field grow" value={asOf} onChange={setAsOf} isRequired>
          <Label>Point in time</Label>
          <Input autoComplete="off" spellCheck={false} placeholder="2026-11-22T10:00:00Z" />
          <Text slot="description">A date-time with an offset, or a date (00:00 UTC).</Text>
        </TextField>
        <Button className="button primary" type="submit">
          Show the key as it was
        </Button>
      </Form>
      <ErrorNotice error={stateError} />
      {state ? <KeyState state={state} /> : null}
    </>
  );
}

function KeyState({ state }: { state: KeyStateAt }) {
  const key = state.key ?? {};
  const models = key.models === 'all' ? 'All models' : Array.isArray(key.models) ? key.models.join(', ') : '—';
  return (
    <section className="state" aria-label={`The key as of ${state.as_of}`} data-testid="key-state">
      <h3>As of {state.as_of}</h3>
      {!state.existed ? (
        <p>The key did not exist yet.</p>
      ) : (
        <dl>
          <dt>Name</dt>
          <dd data-testid="state-name">{String(key.name ?? '—')}</dd>
          <dt>State</dt>
          <dd>{state.deleted ? 'Deleted' : state.expired ? 'Expired' : 'Active'}</dd>
          <dt>Models</dt>
          <dd>{models}</dd>
          <dt>VPC</dt>
          <dd>{typeof key.vpcUuid === 'string' ? key.vpcUuid : 'No VPC network'}</dd>
          <dt>Secret generation</dt>
          <dd>{state.secret_generation ?? '—'}</dd>
          <dt>Revision</dt>
          <dd>{state.revision ?? '—'}</dd>
        </dl>
      )}
    </section>
  );
}

function EventLog({ token, onTimeline }: { token: string; onTimeline: (uuid: string) => void }) {
  const [typeInput, setTypeInput] = useState('');
  const [actorInput, setActorInput] = useState('');
  const [filter, setFilter] = useState<{ type?: string; actor?: string }>({});
  const [afters, setAfters] = useState<number[]>([0]); // the `after` of each page seen, for Previous
  const [page, setPage] = useState<{ events: AuditEvent[]; next_after: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [exporting, setExporting] = useState(false);
  const after = afters[afters.length - 1];

  const load = useCallback(async () => {
    try {
      setPage(await auditApi.teamEvents(token, after, PAGE, filter));
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  }, [token, after, filter]);
  useEffect(() => {
    void load();
  }, [load]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilter({ type: typeInput.trim() || undefined, actor: actorInput.trim() || undefined });
    setAfters([0]);
  };

  /** Every event of the filter, one JSON object a line, saved from memory (a blob: URL, no server round trip). */
  const exportJsonLines = async () => {
    setExporting(true);
    setError(null);
    try {
      const lines: string[] = [];
      for (let from = 0; ; ) {
        const { events, next_after } = await auditApi.teamEvents(token, from, EXPORT_PAGE, filter);
        for (const event of events) lines.push(JSON.stringify(event));
        if (events.length < EXPORT_PAGE) break;
        from = next_after;
      }
      const url = URL.createObjectURL(new Blob(lines.map((line) => `${line}\n`), { type: 'application/x-ndjson' }));
      const link = document.createElement('a');
      link.href = url;
      link.download = 'team-events.jsonl';
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (failure) {
      setError(failure);
    } finally {
      setExporting(false);
    }
  };

  const events = page?.events ?? [];
  return (
    <section className="card" aria-labelledby="log-title">
      <h2 id="log-title">Team event log</h2>
      <Form className="inline-form" onSubmit={apply}>
        <TextField className="field grow" value={typeInput} onChange={setTypeInput}>
          <Label>Event type</Label>
          <Input autoComplete="off" spellCheck={false} placeholder="ModelAccessKeyRenamed" />
        </TextField>
        <TextField className="field grow" value={actorInput} onChange={setActorInput}>
          <Label>Actor (user id)</Label>
          <Input autoComplete="off" spellCheck={false} />
        </TextField>
        <Button className="button primary" type="submit">
          Filter
        </Button>
        <Button className="button" isDisabled={exporting} onPress={exportJsonLines}>
          {exporting ? 'Exporting…' : 'Export JSON Lines'}
        </Button>
      </Form>
      <ErrorNotice error={error} />
      <div className="table-scroll">
        <Table aria-label="Team event log" className="table audit-table">
          <TableHeader>
            <Column isRowHeader className="column">
              Position
            </Column>
            <Column className="column">Recorded</Column>
            <Column className="column">Type</Column>
            <Column className="column">Actor</Column>
            <Column className="column">Key</Column>
          </TableHeader>
          <TableBody items={events} renderEmptyState={() => (error ? 'The events could not be read: see the error above.' : page ? 'No events.' : 'Loading…')}>
            {(event) => {
              const uuid = keyUuidOf(event);
              return (
                <Row id={event.position} className="row">
                  <Cell className="cell" data-label="Position">
                    {event.position}
                  </Cell>
                  <Cell className="cell" data-label="Recorded">
                    <time dateTime={event.recorded_at}>{event.recorded_at}</time>
                  </Cell>
                  <Cell className="cell" data-label="Type">
                    {event.type}
                  </Cell>
                  <Cell className="cell" data-label="Actor">
                    {actorOf(event)}
                  </Cell>
                  <Cell className="cell" data-label="Key">
                    {uuid ? (
                      <Button className="link-button" onPress={() => onTimeline(uuid)} aria-label={`Timeline of key ${uuid} (event ${event.position})`}>
                        <code>{uuid}</code>
                      </Button>
                    ) : (
                      <code className="muted">{event.stream_id}</code>
                    )}
                  </Cell>
                </Row>
              );
            }}
          </TableBody>
        </Table>
      </div>
      <nav className="pager" aria-label="Event log pages">
        <Button className="button" isDisabled={afters.length <= 1} onPress={() => setAfters(afters.slice(0, -1))}>
          Previous
        </Button>
        <span>After position {after}</span>
        <Button className="button" isDisabled={events.length < PAGE} onPress={() => page && setAfters([...afters, page.next_after])}>
          Next
        </Button>
      </nav>
    </section>
  );
}
