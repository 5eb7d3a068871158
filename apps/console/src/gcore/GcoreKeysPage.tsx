import { FormEvent, useCallback, useEffect, useState } from 'react';
import { useChanges, useRead } from '../hooks';
import {
  Button,
  Cell,
  Checkbox,
  CheckboxGroup,
  Column,
  Dialog,
  FieldError,
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
  Radio,
  RadioGroup,
  Row,
  Tab,
  Table,
  TableBody,
  TableHeader,
  TabList,
  TabPanel,
  Tabs,
  Text,
  TextArea,
  TextField,
} from 'react-aria-components';
import { InferenceApiKey, gcoreApi } from '../api';
import { ErrorNotice } from '../ErrorNotice';
import { SecretOnce } from '../SecretOnce';
import { Session } from '../session';
import { expiryLabel } from './expiry';

const PER_PAGE = 10;
const DEPLOYMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Inference API keys (Gcore), in the caller's project: its team. */
export function GcoreKeysPage({ session }: { session: Session }) {
  const project = session.teamId;
  const readOnly = session.role === 'auditor';
  const [offset, setOffset] = useState(0);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<InferenceApiKey | null>(null);
  const [deleting, setDeleting] = useState<InferenceApiKey | null>(null);
  const { announcement, version, changed } = useChanges();
  const read = useCallback(() => gcoreApi.list(session.token, project, PER_PAGE, offset), [session.token, project, offset]);
  const { data, error } = useRead(read, version);

  const keys = data?.results ?? [];
  // The deployments the project's keys name: what the multi-select offers (there is no deployment catalogue in the API).
  const known = [...new Set(keys.flatMap((k) => k.deployment_names))].sort();
  const columns = [
    { id: 'name', name: 'Name' },
    { id: 'description', name: 'Description' },
    { id: 'deployments', name: 'Inference instances' },
    { id: 'expiration', name: 'Expiration' },
    { id: 'created', name: 'Created' },
    ...(readOnly ? [] : [{ id: 'actions', name: 'Actions' }]),
  ];

  return (
    <>
      <div className="page-head">
        <h1>API keys</h1>
        {readOnly ? null : (
          <Button className="button primary" onPress={() => setCreating(true)}>
            Create API key
          </Button>
        )}
      </div>
      <p className="hint">Inference at the Edge, project {project}. A key is required on the deployments it is attached to.</p>
      <p role="status" className="announcement">
        {announcement}
      </p>
      <ErrorNotice error={error} />
      <div className="table-scroll">
        <Table aria-label="API keys" className="table">
          <TableHeader columns={columns}>
            {(column) => (
              <Column id={column.id} isRowHeader={column.id === 'name'} className="column">
                {column.id === 'actions' ? <span className="visually-hidden">Actions</span> : column.name}
              </Column>
            )}
          </TableHeader>
          <TableBody items={keys.map((k) => ({ ...k, id: k.name }))} renderEmptyState={() => (error ? 'The keys could not be read: see the error above.' : data ? 'No API keys yet.' : 'Loading…')} dependencies={[columns.length]}>
            {(key) => (
              <Row id={key.name} columns={columns} className="row">
                {(column) => (
                  <Cell className="cell" data-label={column.id === 'actions' ? undefined : column.name}>
                    {column.id === 'name' ? (
                      <span className="key-name">{key.name}</span>
                    ) : column.id === 'description' ? (
                      key.description ?? <span className="muted">—</span>
                    ) : column.id === 'deployments' ? (
                      key.deployment_names.join(', ') || <span className="muted">None</span>
                    ) : column.id === 'expiration' ? (
                      <span className={expiryLabel(key.expires_at) === 'Expired' ? 'badge expired' : undefined}>{expiryLabel(key.expires_at)}</span>
                    ) : column.id === 'created' ? (
                      <time dateTime={key.created_at}>{key.created_at.slice(0, 10)}</time>
                    ) : (
                      <MenuTrigger>
                        <Button className="button icon" aria-label={`Actions for ${key.name}`}>
                          ⋯
                        </Button>
                        <Popover className="popover" placement="bottom end">
                          <Menu className="menu" onAction={(id) => (id === 'edit' ? setEditing(key) : setDeleting(key))}>
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
      {data && data.count > 0 ? (
        <nav className="pager" aria-label="API key pages">
          <Button className="button" isDisabled={offset === 0} onPress={() => setOffset(Math.max(0, offset - PER_PAGE))}>
            Previous
          </Button>
          <span>
            {offset + 1}-{offset + keys.length} of {data.count}
          </span>
          <Button className="button" isDisabled={offset + PER_PAGE >= data.count} onPress={() => setOffset(offset + PER_PAGE)}>
            Next
          </Button>
        </nav>
      ) : null}
      {creating ? (
        <CreateGcoreKey token={session.token} project={project} known={known} onCreated={(k) => changed(`API key ${k.name} created.`)} onClose={() => setCreating(false)} />
      ) : null}
      {editing ? (
        <EditGcoreKey token={session.token} project={project} keyInfo={editing} known={known} onChanged={(k) => changed(`API key ${k.name} saved.`)} onClose={() => setEditing(null)} />
      ) : null}
      {deleting ? (
        <DeleteGcoreKey token={session.token} project={project} keyInfo={deleting} onDeleted={() => changed(`API key ${deleting.name} deleted.`)} onClose={() => setDeleting(null)} />
      ) : null}
    </>
  );
}

/** A multi-select of deployments: those the project's keys name, and any other added by name. */
function DeploymentPicker({ known, selected, onChange }: { known: string[]; selected: string[]; onChange: (names: string[]) => void }) {
  const [extra, setExtra] = useState('');
  const options = [...new Set([...known, ...selected])].sort();
  const add = () => {
    const name = extra.trim();
    if (!DEPLOYMENT_NAME.test(name)) return;
    if (!selected.includes(name)) onChange([...selected, name]);
    setExtra('');
  };
  return (
    <div className="field">
      {options.length > 0 ? (
        <CheckboxGroup className="checks" value={selected} onChange={onChange}>
          <Label>Inference instances</Label>
          {options.map((name) => (
            <Checkbox key={name} value={name} className="checkbox">
              <div className="box" aria-hidden="true" />
              {name}
            </Checkbox>
          ))}
        </CheckboxGroup>
      ) : (
        <p className="hint">No deployment is named yet: add one by its name.</p>
      )}
      <div className="inline-form">
        <TextField
          className="field grow"
          value={extra}
          onChange={setExtra}
          validate={(value) => (value === '' || DEPLOYMENT_NAME.test(value.trim()) ? null : '1-128 letters, digits, dots, underscores or hyphens, starting with a letter or digit.')}
        >
          <Label>Add a deployment by name</Label>
          <Input
            autoComplete="off"
            spellCheck={false}
            onKeyDown={(event) => {
              if (event.key === 'Enter') {
                event.preventDefault();
                add();
              }
            }}
          />
          <FieldError />
        </TextField>
        <Button className="button" onPress={add}>
          Add deployment
        </Button>
      </div>
    </div>
  );
}

function ExpirationPicker({ never, date, onNever, onDate }: { never: boolean; date: string; onNever: (never: boolean) => void; onDate: (date: string) => void }) {
  return (
    <>
      <RadioGroup className="field radios" value={never ? 'never' : 'date'} onChange={(v) => onNever(v === 'never')}>
        <Label>Expiration</Label>
        <Radio value="never" className="radio">
          Never expire
        </Radio>
        <Radio value="date" className="radio">
          Set an expiration date
        </Radio>
      </RadioGroup>
      {never ? null : (
        <TextField className="field" value={date} onChange={onDate} isRequired type="date">
          <Label>Expiration date</Label>
          <Input />
          <Text slot="description">The key stops working at 00:00 UTC on this date.</Text>
          <FieldError />
        </TextField>
      )}
    </>
  );
}

function CreateGcoreKey(props: { token: string; project: string; known: string[]; onCreated: (key: InferenceApiKey) => void; onClose: () => void }) {
  const { token, project, known, onCreated, onClose } = props;
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [deployments, setDeployments] = useState<string[]>([]);
  const [never, setNever] = useState(true);
  const [date, setDate] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!never && date === '') return;
    setBusy(true);
    setError(null);
    try {
      const key = await gcoreApi.create(token, project, {
        name: name.trim(),
        ...(description.trim() ? { description: description.trim() } : {}),
        ...(never ? {} : { expires_at: date }),
      });
      setSecret(key.secret ?? null);
      onCreated(key);
      // The API's create takes no deployments: they are attached by a PATCH right after. If that fails,
      // the key exists and its secret is still shown, with the error.
      if (deployments.length > 0) {
        try {
          onCreated(await gcoreApi.update(token, project, key.name, { deployment_names: deployments }));
        } catch (failure) {
          setError(failure);
        }
      }
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <ModalOverlay className="overlay" isOpen isDismissable={false}>
      <Modal className="modal">
        <Dialog className="dialog">
          <Heading slot="title">Create API key</Heading>
          {secret !== null ? (
            <>
              <ErrorNotice error={error} />
              <SecretOnce secret={secret} onDone={onClose} />
            </>
          ) : (
            <Form onSubmit={submit}>
              <h3 className="section-title">General</h3>
              <TextField className="field" value={name} onChange={setName} isRequired autoFocus>
                <Label>Name</Label>
                <Input autoComplete="off" />
                <FieldError />
              </TextField>
              <TextField className="field" value={description} onChange={setDescription}>
                <Label>Description (optional)</Label>
                <TextArea rows={2} />
              </TextField>
              <DeploymentPicker known={known} selected={deployments} onChange={setDeployments} />
              <ExpirationPicker never={never} date={date} onNever={setNever} onDate={setDate} />
              <ErrorNotice error={error} />
              <div className="actions">
                <Button className="button" onPress={onClose}>
                  Cancel
                </Button>
                <Button className="button primary" type="submit" isDisabled={busy}>
                  Create
                </Button>
              </div>
            </Form>
          )}
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}

/** The key's page: General, Inference instances and Expiration tabs, each saved on its own (PATCH). */
function EditGcoreKey(props: { token: string; project: string; keyInfo: InferenceApiKey; known: string[]; onChanged: (key: InferenceApiKey) => void; onClose: () => void }) {
  const { token, project, known, onChanged, onClose } = props;
  const [key, setKey] = useState(props.keyInfo);
  const [description, setDescription] = useState(key.description ?? '');
  const [deployments, setDeployments] = useState(key.deployment_names);
  const [never, setNever] = useState(key.expires_at === null);
  const [date, setDate] = useState(key.expires_at?.slice(0, 10) ?? '');
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const save = async (body: Parameters<typeof gcoreApi.update>[3], what: string) => {
    setError(null);
    setSaved('');
    try {
      const next = await gcoreApi.update(token, project, key.name, body);
      setKey(next);
      onChanged(next);
      setSaved(`${what} saved.`);
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <ModalOverlay className="overlay" isOpen isDismissable onOpenChange={(open) => (open ? undefined : onClose())}>
      <Modal className="modal wide">
        <Dialog className="dialog">
          <Heading slot="title">API key {key.name}</Heading>
          <p className="hint">
            Expiration: <span data-testid="gcore-expiry">{expiryLabel(key.expires_at)}</span>
          </p>
          <Tabs>
            <TabList aria-label="API key settings" className="tablist">
              <Tab id="general" className="tab">
                General
              </Tab>
              <Tab id="instances" className="tab">
                Inference instances
              </Tab>
              <Tab id="expiration" className="tab">
                Expiration
              </Tab>
            </TabList>
            <TabPanel id="general" className="tabpanel">
              <Form onSubmit={(e) => (e.preventDefault(), void save({ description: description.trim() || null }, 'Description'))}>
                <TextField className="field" value={key.name} isReadOnly>
                  <Label>Name</Label>
                  <Input />
                  <Text slot="description">A key's name is its address in this API and does not change.</Text>
                </TextField>
                <TextField className="field" value={description} onChange={setDescription}>
                  <Label>Description</Label>
                  <TextArea rows={2} />
                </TextField>
                <Button className="button primary" type="submit">
                  Save
                </Button>
              </Form>
            </TabPanel>
            <TabPanel id="instances" className="tabpanel">
              <DeploymentPicker known={known} selected={deployments} onChange={setDeployments} />
              <Button className="button primary" onPress={() => save({ deployment_names: deployments }, 'Inference instances')}>
                Save
              </Button>
            </TabPanel>
            <TabPanel id="expiration" className="tabpanel">
              <Form onSubmit={(e) => (e.preventDefault(), void save({ expires_at: never ? null : date }, 'Expiration'))}>
                <ExpirationPicker never={never} date={date} onNever={setNever} onDate={setDate} />
                <Button className="button primary" type="submit">
                  Save
                </Button>
              </Form>
            </TabPanel>
          </Tabs>
          <p role="status" className="hint">
            {saved}
          </p>
          <ErrorNotice error={error} />
          <div className="actions">
            <Button className="button" onPress={onClose}>
              Close
            </Button>
          </div>
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}

function DeleteGcoreKey(props: { token: string; project: string; keyInfo: InferenceApiKey; onDeleted: () => void; onClose: () => void }) {
  const { token, project, keyInfo, onDeleted, onClose } = props;
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await gcoreApi.remove(token, project, keyInfo.name);
      onDeleted();
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
        <Dialog className="dialog" role="alertdialog">
          <Heading slot="title">Delete API key {keyInfo.name}</Heading>
          <p className="warning">Deleting the key removes it for good: requests using it are refused.</p>
          {keyInfo.deployment_names.length > 0 ? (
            <p>
              It is attached to {keyInfo.deployment_names.join(', ')}: the service refuses to delete an attached key. Detach it under Edit, Inference
              instances, first.
            </p>
          ) : null}
          <ErrorNotice error={error} />
          <div className="actions">
            <Button className="button" onPress={onClose}>
              Cancel
            </Button>
            <Button className="button danger" isDisabled={busy} onPress={remove}>
              Delete API key
            </Button>
          </div>
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}
