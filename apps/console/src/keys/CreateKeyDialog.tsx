import { FormEvent, useState } from 'react';
import { Button, Dialog, FieldError, Form, Heading, Input, Label, Modal, ModalOverlay, Radio, RadioGroup, Switch, Text, TextArea, TextField } from 'react-aria-components';
import { ApiKeyInfo, keysApi } from '../api';
import { ErrorNotice } from '../ErrorNotice';
import { SecretOnce } from '../SecretOnce';
import { parseModels } from './key-rules';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Props {
  isOpen: boolean;
  token: string;
  onCreated: (key: ApiKeyInfo) => void;
  onClose: () => void;
}

/**
 * Create model access key: name and models, then the VPC, then the secret once. The modal's content
 * unmounts when it closes, and the secret with it.
 */
export function CreateKeyDialog({ isOpen, token, onCreated, onClose }: Props) {
  return (
    <ModalOverlay className="overlay" isOpen={isOpen} isDismissable={false} isKeyboardDismissDisabled>
      <Modal className="modal">
        <Dialog className="dialog">{isOpen ? <CreateSteps token={token} onCreated={onCreated} onClose={onClose} /> : null}</Dialog>
      </Modal>
    </ModalOverlay>
  );
}

function CreateSteps({ token, onCreated, onClose }: Omit<Props, 'isOpen'>) {
  const [step, setStep] = useState<'details' | 'vpc' | 'secret'>('details');
  const [name, setName] = useState('');
  const [scope, setScope] = useState<'all' | 'select'>('all');
  const [modelText, setModelText] = useState('');
  const [batch, setBatch] = useState(false);
  const [vpcChoice, setVpcChoice] = useState<'none' | 'custom'>('none');
  const [vpc, setVpc] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // One per window: a retry of the same create (a lost answer) gets the first answer, not a second key.
  const [idempotencyKey] = useState(() => crypto.randomUUID());

  const models = parseModels(modelText);
  const detailsDone = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim() === '') return;
    if (scope === 'select' && models.length === 0) return setError(new Error('Name at least one model, or choose All models.'));
    setError(null);
    setStep('vpc');
  };
  const create = async (event: FormEvent) => {
    event.preventDefault();
    if (vpcChoice === 'custom' && !UUID.test(vpc.trim())) return;
    setBusy(true);
    setError(null);
    try {
      const { api_key_info: key } = await keysApi.create(
        token,
        {
          name: name.trim(),
          models: scope === 'all' ? 'all' : models,
          ...(scope === 'all' && batch ? { batch_inference_enabled: true } : {}),
          ...(vpcChoice === 'custom' ? { vpc_uuid: vpc.trim() } : {}),
        },
        idempotencyKey,
      );
      setSecret(key.secret_key ?? null);
      setStep('secret');
      onCreated(key);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <Heading slot="title">Create model access key</Heading>
      {step === 'details' ? (
        <Form onSubmit={detailsDone}>
          <TextField className="field" value={name} onChange={setName} isRequired autoFocus>
            <Label>Access Key Name</Label>
            <Input autoComplete="off" />
            <FieldError />
          </TextField>
          <RadioGroup className="field radios" value={scope} onChange={(v) => setScope(v as 'all' | 'select')}>
            <Label>Foundation models</Label>
            <Radio value="all" className="radio">
              All models
            </Radio>
            <Radio value="select" className="radio">
              Select models
            </Radio>
          </RadioGroup>
          {scope === 'all' ? (
            <Switch className="switch" isSelected={batch} onChange={setBatch}>
              <div className="track" aria-hidden="true">
                <span className="thumb" />
              </div>
              Enable batch inferencing for OpenAI and Anthropic text models
            </Switch>
          ) : (
            <TextField className="field" value={modelText} onChange={setModelText} isRequired>
              <Label>Model ids</Label>
              <TextArea rows={3} spellCheck={false} />
              <Text slot="description">One per line, or separated by commas (for example llama3.3-70b-instruct).</Text>
              <FieldError />
            </TextField>
          )}
          <ErrorNotice error={error} />
          <div className="actions">
            <Button className="button" onPress={onClose}>
              Cancel
            </Button>
            <Button className="button primary" type="submit">
              Continue
            </Button>
          </div>
        </Form>
      ) : step === 'vpc' ? (
        <Form onSubmit={create}>
          <RadioGroup className="field radios" value={vpcChoice} onChange={(v) => setVpcChoice(v as 'none' | 'custom')}>
            <Label>VPC Network</Label>
            <Radio value="none" className="radio">
              No VPC network
            </Radio>
            <Radio value="custom" className="radio">
              Custom team VPC
            </Radio>
          </RadioGroup>
          {vpcChoice === 'custom' ? (
            <TextField
              className="field"
              value={vpc}
              onChange={setVpc}
              isRequired
              validate={(value) => (UUID.test(value.trim()) ? null : 'Enter the VPC network’s uuid.')}
            >
              <Label>VPC uuid</Label>
              <Input autoComplete="off" spellCheck={false} />
              <Text slot="description">Only requests from this VPC network will authenticate. Enable its VPC-local DNS resolver.</Text>
              <FieldError />
            </TextField>
          ) : null}
          <p className="hint">Models, batch inference and the VPC cannot be changed after the key is created.</p>
          <ErrorNotice error={error} />
          <div className="actions">
            <Button className="button" onPress={() => setStep('details')}>
              Back
            </Button>
            <Button className="button primary" type="submit" isDisabled={busy}>
              Add model access key
            </Button>
          </div>
        </Form>
      ) : secret !== null ? (
        <SecretOnce secret={secret} onDone={onClose} />
      ) : (
        <ErrorNotice error={new Error('The key was created, but the answer held no secret.')} />
      )}
    </>
  );
}
