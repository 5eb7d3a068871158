import { useCallback, useEffect, useState } from 'react';
import { useChanges } from '../hooks';
import {
  Button,
  Cell,
  Column,
  Dialog,
  DialogTrigger,
  Menu,
  MenuItem,
  MenuTrigger,
  Popover,
  Row,
  Tab,
  Table,
  TableBody,
  TableHeader,
  TabList,
  TabPanel,
  Tabs,
} from 'react-aria-components';
import { ApiKeyInfo, KeyPage, KeyView, keysApi } from '../api';
import { ErrorNotice } from '../ErrorNotice';
import { Session } from '../session';
import { ConfirmNameDialog } from './ConfirmNameDialog';
import { CreateKeyDialog } from './CreateKeyDialog';
import { DeploymentsDialog } from './DeploymentsDialog';
import { RenameDialog } from './RenameDialog';
import { tabsFor } from './key-rules';

const PER_PAGE = 10;

type Action = { kind: 'rename' | 'deployments' | 'regenerate' | 'delete'; key: ApiKeyInfo };

export function ModelKeysPage({ session }: { session: Session }) {
  const tabs = tabsFor(session.role);
  const readOnly = session.role === 'auditor';
  const [view, setView] = useState<KeyView>(tabs[0].id);
  const [action, setAction] = useState<Action | null>(null);
  const [creating, setCreating] = useState(false);
  const { announcement, version, changed } = useChanges();

  return (
    <>
      <div className="page-head">
        <h1>Manage Model Access Keys</h1>
        {readOnly ? (
          <p className="hint">Auditors read keys; they cannot change them.</p>
        ) : (
          <Button className="button primary" onPress={() => setCreating(true)}>
            Create model access key
          </Button>
        )}
      </div>
      <p role="status" className="announcement">
        {announcement}
      </p>
      <Tabs selectedKey={view} onSelectionChange={(key) => setView(key as KeyView)}>
        <TabList aria-label="Key views" className="tablist">
          {tabs.map((tab) => (
            <Tab key={tab.id} id={tab.id} className="tab">
              {tab.label}
            </Tab>
          ))}
        </TabList>
        {tabs.map((tab) => (
          <TabPanel key={tab.id} id={tab.id} className="tabpanel">
            <KeyTable session={session} view={tab.id} label={tab.label} version={version} readOnly={readOnly} onAction={setAction} />
          </TabPanel>
        ))}
      </Tabs>
      <CreateKeyDialog
        isOpen={creating}
        token={session.token}
        onCreated={(key) => changed(`Key ${key.name} created.`)}
        onClose={() => setCreating(false)}
      />
      {action?.kind === 'rename' ? (
        <RenameDialog token={session.token} keyInfo={action.key} onRenamed={(key) => changed(`Key renamed to ${key.name}.`)} onClose={() => setAction(null)} />
      ) : null}
      {action?.kind === 'deployments' ? (
        <DeploymentsDialog
          token={session.token}
          keyInfo={action.key}
          readOnly={readOnly}
          onChanged={(key) => changed(`Deployments of ${key.name}: ${key.deployment_names.join(', ') || 'none'}.`)}
          onClose={() => setAction(null)}
        />
      ) : null}
      {action?.kind === 'regenerate' || action?.kind === 'delete' ? (
        <ConfirmNameDialog
          kind={action.kind}
          token={session.token}
          keyInfo={action.key}
          onDone={(message) => changed(message)}
          onClose={() => setAction(null)}
        />
      ) : null}
    </>
  );
}

const dateTime = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

function KeyTable(props: { session: Session; view: KeyView; label: string; version: number; readOnly: boolean; onAction: (action: Action) => void }) {
  const { session, view, label, version, readOnly, onAction } = props;
  const [page, setPage] = useState(1);
  const [data, setData] = useState<KeyPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      const answer = await keysApi.list(session.token, view, page, PER_PAGE);
      setData(answer);
      setError(null);
      // A deletion can empty the last page: step back to the one that now exists.
      if (answer.api_key_infos.length === 0 && page > 1) setPage(Math.max(1, answer.meta.pages));
    } catch (failure) {
      setError(failure);
    } finally {
      setLoading(false);
    }
  }, [session.token, view, page]);

  useEffect(() => {
    void load();
  }, [load, version]);

  const columns = [
    { id: 'name', name: 'Name' },
    { id: 'models', name: 'Models' },
    { id: 'vpc', name: 'VPC' },
    { id: 'deployments', name: 'Deployments' },
    { id: 'created', name: 'Created' },
    ...(view === 'team' ? [{ id: 'creator', name: 'Creator' }] : []),
    ...(readOnly ? [] : [{ id: 'actions', name: 'Actions' }]),
  ];
  const keys = data?.api_key_infos ?? [];

  return (
    <div className="table-area">
      <ErrorNotice error={error} />
      <div className="table-scroll">
        <Table aria-label={label} className="table" data-testid={`table-${view}`}>
          <TableHeader columns={columns}>
            {(column) => (
              <Column id={column.id} isRowHeader={column.id === 'name'} className="column">
                {column.id === 'actions' ? <span className="visually-hidden">Actions</span> : column.name}
              </Column>
            )}
          </TableHeader>
          <TableBody items={keys} renderEmptyState={() => (loading ? 'Loading…' : error ? 'The keys could not be read: see the error above.' : 'No keys here yet.')} dependencies={[columns.length]}>
            {(key) => (
              <Row id={key.uuid} columns={columns} className="row">
                {(column) => (
                  <Cell className="cell" data-label={column.id === 'actions' ? undefined : column.name}>
                    {cellOf(column.id, key, onAction)}
                  </Cell>
                )}
              </Row>
            )}
          </TableBody>
        </Table>
      </div>
      {data && data.meta.total > 0 ? (
        <nav className="pager" aria-label={`${label} pages`}>
          <Button className="button" isDisabled={page <= 1} onPress={() => setPage(page - 1)}>
            Previous
          </Button>
          <span>
            Page {data.meta.page} of {Math.max(1, data.meta.pages)} ({data.meta.total} {data.meta.total === 1 ? 'key' : 'keys'})
          </span>
          <Button className="button" isDisabled={page >= data.meta.pages} onPress={() => setPage(page + 1)}>
            Next
          </Button>
        </nav>
      ) : null}
    </div>
  );
}

function cellOf(column: string, key: ApiKeyInfo, onAction: (action: Action) => void) {
  switch (column) {
    case 'name':
      return (
        <span className="key-name">
          {key.name}
          {key.legacy ? <span className="badge">Legacy</span> : null}
        </span>
      );
    case 'models':
      return <ModelsCell keyInfo={key} />;
    case 'vpc':
      return key.vpc_uuid ? <code className="vpc">{key.vpc_uuid}</code> : <span className="muted">No VPC network</span>;
    case 'deployments':
      return key.deployment_names.length === 0 ? <span className="muted">None</span> : key.deployment_names.join(', ');
    case 'created':
      return <time dateTime={key.created_at}>{dateTime(key.created_at)}</time>;
    case 'creator':
      return key.created_by;
    default:
      return (
        <MenuTrigger>
          <Button className="button icon" aria-label={`Actions for ${key.name}`}>
            ⋯
          </Button>
          <Popover className="popover" placement="bottom end">
            <Menu className="menu" onAction={(id) => onAction({ kind: id as Action['kind'], key })}>
              <MenuItem id="rename" className="menu-item">
                Rename
              </MenuItem>
              <MenuItem id="deployments" className="menu-item">
                Deployments
              </MenuItem>
              <MenuItem id="regenerate" className="menu-item">
                Regenerate
              </MenuItem>
              <MenuItem id="delete" className="menu-item danger">
                Delete
              </MenuItem>
            </Menu>
          </Popover>
        </MenuTrigger>
      );
  }
}

function ModelsCell({ keyInfo }: { keyInfo: ApiKeyInfo }) {
  const batch = keyInfo.batch_inference_enabled ? <span className="badge batch">Batch Inference</span> : null;
  if (keyInfo.models === 'all') {
    return (
      <span className="models">
        All models{keyInfo.legacy ? ' (legacy: scope not editable)' : ''}
        {batch}
      </span>
    );
  }
  const models = keyInfo.models;
  return (
    <span className="models">
      <DialogTrigger>
        <Button className="link-button" aria-label={`${models.length} ${models.length === 1 ? 'model' : 'models'} of ${keyInfo.name}`}>
          {models.length === 1 ? models[0] : `${models.length} models`}
        </Button>
        <Popover className="popover" placement="bottom start">
          <Dialog className="models-list" aria-label={`Models of ${keyInfo.name}`}>
            <ul>
              {models.map((model) => (
                <li key={model}>{model}</li>
              ))}
            </ul>
          </Dialog>
        </Popover>
      </DialogTrigger>
      {batch}
    </span>
  );
}
