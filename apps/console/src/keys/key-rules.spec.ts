import { parseModels, tabsFor } from './key-rules';

describe("the console's key rules", () => {
  it('gives owners My keys, Legacy keys and Team\'s keys; members no Team\'s keys; auditors the team and legacy keys', () => {
    expect(tabsFor('owner').map((t) => t.label)).toEqual(['My keys', 'Legacy keys', "Team's keys"]);
    expect(tabsFor('member').map((t) => t.label)).toEqual(['My keys', 'Legacy keys']);
    expect(tabsFor('auditor').map((t) => t.id)).toEqual(['team', 'legacy']);
  });

  it('reads model ids one per line or comma-separated, dropping blanks and repeats', () => {
    expect(parseModels(' llama3.3-70b-instruct, mistral-nemo-instruct\n\nllama3.3-70b-instruct ,')).toEqual(['llama3.3-70b-instruct', 'mistral-nemo-instruct']);
    expect(parseModels(' , \n')).toEqual([]);
  });
});
