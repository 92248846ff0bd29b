// Hugging Face's tokenizers for JavaScript (@huggingface/tokenizers, the library transformers.js
// tokenizes with): the peer for quantscope-cli tokenize on tokenizer.json files.
// usage: node hf_tokenize.mjs DIR TEXTS.jsonl
//   DIR holds tokenizer.json and tokenizer_config.json; TEXTS.jsonl one JSON string per line.
//   Prints {texts: [{ids, decoded, with_special}]}: ids without the post-processor's special
//   tokens, their decoding (special tokens kept, spaces not cleaned up), and the ids with them.
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';

const [dir, textsPath] = process.argv.slice(2);
const tokenizer = new Tokenizer(JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')),
                                JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8')));
const texts = readFileSync(textsPath, 'utf8').split('\n').filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));
const rows = texts.map((text) => {
  const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
  return {
    ids,
    decoded: tokenizer.decode(ids, { skip_special_tokens: false,
                                     clean_up_tokenization_spaces: false }),
    with_special: tokenizer.encode(text).ids,
  };
});
process.stdout.write(JSON.stringify({ texts: rows }));
