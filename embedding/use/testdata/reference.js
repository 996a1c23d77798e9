// reference.js computes reference.json: each sentence's pieces, by the
// tokeniser of @energetic-ai/embeddings (the JavaScript the model ships
// with, taken from its bundle), and its vector, by TensorFlow.js (the pure
// JavaScript CPU backend) running model.json. Run it outside the
// repository, in a folder where `npm install @tensorflow/tfjs
// @energetic-ai/embeddings@0.2.0` was run:
//
//   node reference.js MODEL_DIR sentences.json > raw.json
//
// sentences.json is the array of reference.json's texts; raw.json holds
// {text, ids, vec} per sentence, vec rounded to 4 decimals in
// reference.json.

const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const src = fs.readFileSync(require.resolve('@energetic-ai/embeddings'), 'utf8');
const tokSrc = src.slice(src.indexOf('// lib/stringToChars.ts'), src.indexOf('// lib/index.ts', src.indexOf('// lib/tokenizer.ts')));
const Tokenizer = new Function(tokSrc + '; return Tokenizer;')();
const dir = process.argv[2];
const sentences = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
(async () => {
  await tf.setBackend('cpu');
  const mj = JSON.parse(fs.readFileSync(dir + '/model.json', 'utf8'));
  const specs = [], bufs = [];
  for (const g of mj.weightsManifest) { specs.push(...g.weights); for (const p of g.paths) bufs.push(fs.readFileSync(dir + '/' + p)); }
  const all = Buffer.concat(bufs);
  const ab = all.buffer.slice(all.byteOffset, all.byteOffset + all.length);
  const model = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: specs, weightData: ab }));
  const vocab = JSON.parse(fs.readFileSync(dir + '/vocab.json', 'utf8'));
  const tok = new Tokenizer(vocab);
  const out = [];
  for (const s of sentences) {
    const ids = tok.encode(s);
    let vec = null;
    if (ids.length > 0) {
      const indices = tf.tensor2d(ids.map((d, j) => [0, j]), [ids.length, 2], 'int32');
      const values = tf.tensor1d(ids, 'int32');
      const t = await model.executeAsync({ indices, values });
      vec = Array.from(await t.data());
      t.dispose(); indices.dispose(); values.dispose();
    }
    out.push({ text: s, ids, vec });
  }
  process.stdout.write(JSON.stringify(out));
})();
