import { FormEvent, useCallback, useEffect, useState } from 'react';
import { useChanges, useRead } from '../hooks';
import {
  Button,
  Cell,
  Checkbox,
  Column,
  Dialog,
  Form,
  Heading,
  Input,
  Label,
  Menu,
  MenuItem,
  MenuTrigger,
  Modal,
  ModalOverlay,
  Popover,
  Row,
  Tab,
  Table,
  TableBody,
  TableHeader,
  TabList,
  TabPanel,
  Tabs,
  Text,
  TextField,
} from 'react-aria-components';
import { Provider, ProviderKeyAgent, ProviderKeyInfo, providerApi } from '../api';
import { ErrorNotice } from '../ErrorNotice';
import { Session } from '../session';
import { TypedConfirm } from '../TypedConfirm';
import { providerNameChecks } from './provider-name';

const PER_PAGE = 10;
const PROVIDERS: { id: Provider; label: string }[] = [
  { id: 'anthropic', label: 'Anthropic' },
  { id: 'openai', label: 'OpenAI' },
];
const dateTime = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

/** Partner provider keys: the team's own Anthropic and OpenAI keys, verified with the provider before they are saved. */
export function ProviderKeysPage({ session }: { session: Session }) {
  const [provider, setProvider] = useState<Provider>('anthropic');
  return (
    <>
      <h1>Provider keys</h1>
      <p className="hint">Keys of your own provider accounts, used on your behalf. The service checks each with the provider before it saves it, and never shows it again.</p>
      <Tabs selectedKey={provider} onSelectionChange={(key) => setProvider(key as Provider)}>
        <TabList aria-label="Providers" className="tablist">
          {PROVIDERS.map((p) => (
            <Tab key={p.id} id={p.id} className="tab">
              {p.label}
            </Tab>
          ))}
        </TabList>
        {PROVIDERS.map((p) => (
          <TabPanel key={p.id} id={p.id} className="tabpanel">
            <ProviderTable session={session} provider={p.id} label={p.label} />
          </TabPanel>
        ))}
      </Tabs>
    </>
  );
}

type Editing = { mode: 'add' } | { mode: 'edit'; key: ProviderKeyInfo };

function ProviderTable({ session, provider, label }: { session: Session; provider: Provider; label: string }) {
  const readOnly = session.role === 'auditor';
  const [page, setPage] = useState(1);
  const [editing, setEditing] = useState<Editing | null>(null);
  const [deleting, setDeleting] = useState<ProviderKeyInfo | null>(null);
  const { announcement, version, changed } = useChanges();
  const read = useCallback(() => providerApi.list(session.token, provider, page, PER_PAGE), [session.token, provider, page]);
  const { data, error } = useRead(read, version);

  const columns = [
    { id: 'name', name: 'Name' },
    ...(provider === 'openai' ? [{ id: 'models', name: 'Models' }] : []),
    { id: 'created', name: 'Date Created' },
    { id: 'modified', name: 'Date Modified' },
    { id: 'creator', name: 'Added by' },
    ...(readOnly ? [] : [{ id: 'actions', name: 'Actions' }]),
  ];
  const keys = data?.api_key_infos ?? [];
  return (
    <div className="table-area">
      <div className="page-head">
        <h2>{label} keys</h2>
        {readOnly ? null : (
          <Button className="button primary" onPress={() => setEditing({ mode: 'add' })}>
            Add {label} key
          </Button>
        )}
      </div>
      <p role="status" className="announcement">
        {announcement}
      </p>
      <ErrorNotice error={error} />
      <div className="table-scroll">
        <Table aria-label={`${label} keys`} className="table">
          <TableHeader columns={columns}>
            {(column) => (
              <Column id={column.id} isRowHeader={column.id === 'name'} className="column">
                {column.id === 'actions' ? <span className="visually-hidden">Actions</span> : column.name}
              </Column>
            )}
          </TableHeader>
          <TableBody items={keys} renderEmptyState={() => (error ? 'The keys could not be read: see the error above.' : data ? `No ${label} keys yet.` : 'Loading…')} dependencies={[columns.length]}>
            {(key) => (
              <Row id={key.uuid} columns={columns} className="row">
                {(column) => (
                  <Cell className="cell" data-label={column.id === 'actions' ? undefined : column.name}>
                    {column.id === 'name' ? (
                      <span className="key-name">{key.name}</span>
                    ) : column.id === 'models' ? (
                      (key.models ?? []).join(', ') || <span className="muted">—</span>
                    ) : column.id === 'created' ? (
                      <time dateTime={key.created_at}>{dateTime(key.created_at)}</time>
                    ) : column.id === 'modified' ? (
                      <time dateTime={key.updated_at}>{dateTime(key.updated_at)}</time>
                    ) : column.id === 'creator' ? (
                      key.created_by
                    ) : (
                      <MenuTrigger>
                        <Button className="button icon" aria-label={`Actions for ${key.name}`}>
                          ⋯
                        </Button>
                        <Popover className="popover" placement="bottom end">
                          <Menu className="menu" onAction={(id) => (id === 'edit' ? setEditing({ mode: 'edit', key }) : setDeleting(key))}>
                            <MenuItem id="edit" className="menu-item">
                              Edit
                            </MenuItem>
                            <MenuItem id="delete" className="menu-item danger">
                              Delete
                            </MenuItem>
                          </Menu>
                        </Popover>
                      </MenuTrigger>
                    )}
                  </Cell>
                )}
              </Row>
            )}
          </TableBody>
        </Table>
      </div>
      {data && data.meta.total > 0 ? (
        <nav className="pager" aria-label={`${label} key pages`}>
          <Button className="button" isDisabled={page <= 1} onPress={() => setPage(page - 1)}>
            Previous
          </Button>
          <span>
            Page {data.meta.page} of {Math.max(1, data.meta.pages)}
          </span>
          <Button className="button" isDisabled={page >= data.meta.pages} onPress={() => setPage(page + 1)}>
            Next
          </Button>
        </nav>
      ) : null}
      {editing ? (
        <ProviderKeyForm
          token={session.token}
          provider={provider}
          label={label}
          editing={editing}
          onSaved={(key) => changed(`${label} key ${key.name} verified and saved.`)}
          onClose={() => setEditing(null)}
        />
      ) : null}
      {deleting ? (
        <TypedConfirm
          title={`Delete ${label} key`}
          warning="The key is removed, and its encryption key destroyed: it can never be read again. Deleting it removes access to it for all agents."
          details={<AgentsLosingAccess token={session.token} provider={provider} uuid={deleting.uuid} />}
          name={deleting.name}
          action="Delete key"
          onConfirm={async (typed) => {
            await providerApi.remove(session.token, provider, deleting.uuid, typed);
            changed(`${label} key ${deleting.name} deleted.`);
          }}
          onClose={() => setDeleting(null)}
        />
      ) : null}
    </div>
  );
}

/** Add or edit: the key (required to add, optional to edit), a name with its rule checked as it is typed, the terms, Verify and Save. */
function ProviderKeyForm(props: { token: string; provider: Provider; label: string; editing: Editing; onSaved: (key: ProviderKeyInfo) => void; onClose: () => void }) {
  const { token, provider, label, editing, onSaved, onClose } = props;
  const adding = editing.mode === 'add';
  const [apiKey, setApiKey] = useState('');
  const [name, setName] = useState(adding ? '' : editing.key.name);
  const [terms, setTerms] = useState(!adding);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const checks = providerNameChecks(name);
  const nameOk = checks.every((c) => c.ok);
  const ready = nameOk && terms && (adding ? apiKey.length > 0 : true) && !busy;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!ready) return;
    setBusy(true);
    setError(null);
    try {
      const { api_key_info: key } = adding
        ? await providerApi.create(token, provider, { api_key: apiKey, name })
        : await providerApi.update(token, provider, editing.key.uuid, { ...(apiKey ? { api_key: apiKey } : {}), ...(name !== editing.key.name ? { name } : {}) });
      setApiKey('');
      onSaved(key);
      onClose();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <ModalOverlay className="overlay" isOpen isDismissable onOpenChange={(open) => (open ? undefined : onClose())}>
      <Modal className="modal">
        <Dialog className="dialog">
          <Heading slot="title">{adding ? `Add ${label} key` : `Edit ${label} key`}</Heading>
          <Form onSubmit={submit}>
            <TextField className="field" value={apiKey} onChange={setApiKey} isRequired={adding} type="password" autoFocus>
              <Label>{adding ? `${label} API key` : `New ${label} API key (optional)`}</Label>
              <Input autoComplete="off" spellCheck={false} />
              <Text slot="description">{adding ? 'Checked with the provider before it is saved; never shown again.' : 'Leave empty to keep the current key.'}</Text>
            </TextField>
            <TextField className="field" value={name} onChange={setName} isRequired isInvalid={name.length > 0 && !nameOk}>
              <Label>Name</Label>
              <Input autoComplete="off" spellCheck={false} />
            </TextField>
            <ul className="rule-checks" aria-label="Name rule">
              {checks.map((c) => (
                <li key={c.label} className={c.ok ? 'ok' : 'not-ok'}>
                  <span aria-hidden="true">{c.ok ? '✓' : '✗'}</span> {c.label}
                  <span className="visually-hidden">{c.ok ? ' (met)' : ' (not met)'}</span>
                </li>
              ))}
            </ul>
            {adding ? (
              <Checkbox className="checkbox" isSelected={terms} onChange={setTerms}>
                <div className="box" aria-hidden="true" />
                I agree that this key is used on my behalf under {label}'s terms, and that usage is billed to my {label} account
              </Checkbox>
            ) : null}
            <ErrorNotice error={error} />
            <div className="actions">
              <Button className="button" onPress={onClose}>
                Cancel
              </Button>
              <Button className="button primary" type="submit" isDisabled={!ready}>
                {busy ? 'Verifying…' : 'Verify and Save'}
              </Button>
            </div>
          </Form>
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}

/**
 * The agents that lose access with the key (seed 002: a delete "removes access to it for all agents"),
 * read from DigitalOcean's agents list when the delete window opens, before the name is typed.
 */
function AgentsLosingAccess({ token, provider, uuid }: { token: string; provider: Provider; uuid: string }) {
  const [agents, setAgents] = useState<{ list: ProviderKeyAgent[]; total: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let current = true;
    providerApi.agents(token, provider, uuid).then(
      (page) => current && setAgents({ list: page.agents, total: page.meta.total }),
      (failure) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [token, provider, uuid]);
  if (error !== null) return <ErrorNotice error={error} />;
  if (agents === null) return <p className="hint">Looking up the agents that use it…</p>;
  if (agents.total === 0) return <p data-testid="agents-losing-access">No agent is linked to it.</p>;
  return (
    <div className="agents-losing-access" data-testid="agents-losing-access">
      <p>{agents.total === 1 ? 'This agent loses access:' : `These ${agents.total} agents lose access:`}</p>
      <ul>
        {agents.list.map((agent) => (
          <li key={agent.uuid}>
            {agent.name ?? 'unnamed agent'} <code>{agent.uuid}</code>
          </li>
        ))}
        {agents.total > agents.list.length ? <li>and {agents.total - agents.list.length} more</li> : null}
      </ul>
    </div>
  );
}
