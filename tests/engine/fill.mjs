// Fill an XForm with the ODK XForms engine (the engine of ODK Web Forms) and print the
// submission XML the engine itself serialises.
//
// usage: node fill.mjs FORM.xml MEDIA_DIR ANSWERS.json [ATTACHMENTS_OUT_DIR]
//
// ANSWERS.json maps question names to values: {"district": "UG-101", "pupils_p1_boys": 40}.
// A repeat's name maps to a list of objects, one per repeat instance:
// {"staff": [{"post": "nurse", "filled": 3}, ...]}. select_multiple values are arrays or
// space-separated strings. An image (or other upload) question takes the path of a file; with
// ATTACHMENTS_OUT_DIR the engine's attachment files are written there under the names the
// submission XML gives them, ready for a multipart POST.
//
// The harness is strict so fixtures cannot rot silently: an answer for a question that does
// not exist or is not relevant, a value the engine rejects, or a form that still has required
// or constraint violations after filling, all exit with status 1 and a message on stderr.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';

// The engine parses XML with the browser's DOMParser at module load, so the DOM globals must
// exist before it is imported.
const { window } = new JSDOM('');
for (const name of ['DOMParser', 'XMLSerializer', 'Node', 'Element', 'Document', 'document']) {
  if (!(name in globalThis)) {
    globalThis[name] = window[name];
  }
}
// The engine's bundled tree-sitter loader takes its Node branch, which reads the CommonJS
// `__dirname`; its WebAssembly is inlined, so the directory only has to exist.
globalThis.__dirname ??= path.dirname(fileURLToPath(import.meta.url));
const { createInstance } = await import('@getodk/xforms-engine');

const fail = (message) => {
  process.stderr.write(`${message}\n`);
  process.exit(1);
};

const [formPath, mediaDir, answersPath, attachmentsOut] = process.argv.slice(2);
if (!formPath || !mediaDir || !answersPath) {
  fail('usage: node fill.mjs FORM.xml MEDIA_DIR ANSWERS.json');
}

const formXml = await readFile(formPath, 'utf8');
const answers = JSON.parse(await readFile(answersPath, 'utf8'));

// Form attachments (jr://file/regions.csv ...) are served from MEDIA_DIR by file name.
const fetchFormAttachment = async (url) => {
  const fileName = path.basename(decodeURIComponent(url.pathname || url.href));
  try {
    const body = await readFile(path.join(mediaDir, fileName));
    return new Response(body, { status: 200 });
  } catch {
    return new Response('', { status: 404 });
  }
};

const instance = await createInstance(formXml, {
  form: { fetchFormAttachment },
  instance: {
    preloadProperties: { deviceID: 'dmip-engine-harness', username: 'enumerator' },
  },
});
const root = instance.root;

const nameOf = (node) => node.definition.nodeset.split('/').pop();

const used = new Set();

const uploads = new Map();
for (const value of collectUploadPaths(answers)) {
  try {
    uploads.set(value, new File([await readFile(value)], path.basename(value)));
  } catch {
    // Not a readable file: setLeaf reports it if it was meant for an upload question.
  }
}

function collectUploadPaths(scope) {
  const found = [];
  for (const value of Object.values(scope)) {
    if (Array.isArray(value)) {
      for (const item of value) {
        if (item && typeof item === 'object') found.push(...collectUploadPaths(item));
      }
    } else if (typeof value === 'string' && value.startsWith('/')) {
      found.push(value);
    }
  }
  return found;
}

const setLeaf = (node, value, where) => {
  const state = node.currentState;
  if (!state.relevant) {
    fail(`${where}: an answer was given but the question is not relevant here`);
  }
  if (state.readonly) {
    fail(`${where}: an answer was given but the question is read-only (a calculation?)`);
  }
  switch (node.nodeType) {
    case 'select': {
      // Check against the choices offered now (after choice filters), as a phone would show
      // them: the engine ignores a value that is not offered.
      const values = Array.isArray(value) ? value : String(value).split(/\s+/).filter(Boolean);
      const options = state.valueOptions.map((item) => item.value);
      for (const chosen of values.map(String)) {
        if (!options.includes(chosen)) {
          fail(`${where}: ${JSON.stringify(chosen)} is not one of the choices offered`);
        }
      }
      if (node.selectType === 'select') {
        node.selectValues(values.map(String));
      } else {
        node.selectValue(values.length ? String(values[0]) : null);
      }
      break;
    }
    case 'input':
      node.setValue(typeof value === 'number' ? String(value) : value);
      break;
    case 'trigger':
      node.setValue(Boolean(value));
      break;
    case 'upload': {
      const file = uploads.get(value);
      if (!file) {
        fail(`${where}: ${JSON.stringify(value)} is not a readable file (give an absolute path)`);
      }
      node.setValue(file);
      break;
    }
    default:
      fail(`${where}: questions of type ${node.nodeType} cannot be answered by this harness`);
  }
  const violation = node.validationState.violation;
  if (violation && violation.condition === 'constraint') {
    const message = violation.message ? violation.message.asString : 'constraint not met';
    fail(`${where}: the value ${JSON.stringify(value)} was rejected: ${message}`);
  }
};

const fillRepeat = (range, items, where) => {
  if (!Array.isArray(items)) {
    fail(`${where}: a repeat needs a list of objects`);
  }
  if (range.nodeType === 'repeat-range:uncontrolled') {
    let count = range.currentState.children.length;
    if (count > items.length) {
      range.removeInstances(items.length, count - items.length);
    } else if (count < items.length) {
      range.addInstances(count - 1, items.length - count);
    }
    count = range.currentState.children.length;
    if (count !== items.length) {
      fail(`${where}: could not make ${items.length} repeat instances (have ${count})`);
    }
  } else if (range.currentState.children.length !== items.length) {
    fail(
      `${where}: the form fixes ${range.currentState.children.length} instances, ` +
        `the answers give ${items.length}`,
    );
  }
  range.currentState.children.forEach((repeatInstance, index) => {
    const own = items[index] ?? {};
    const seen = new Set();
    fill(repeatInstance, own, seen, `${where}[${index + 1}]`);
    for (const key of Object.keys(own)) {
      if (!seen.has(key)) {
        fail(`${where}[${index + 1}]: no question named ${JSON.stringify(key)} in this repeat`);
      }
    }
  });
};

// Walk in document order, re-reading children after every answer: earlier answers change
// which later questions are relevant.
function fill(parent, scope, seen, where) {
  for (const node of parent.currentState.children) {
    const name = nameOf(node);
    const here = `${where}/${name}`;
    if (node.nodeType === 'group') {
      fill(node, scope, seen, where);
    } else if (node.nodeType.startsWith('repeat-range')) {
      if (name in scope) {
        seen.add(name);
        fillRepeat(node, scope[name], here);
      }
    } else if (name in scope) {
      seen.add(name);
      setLeaf(node, scope[name], here);
    }
  }
}

fill(root, answers, used, '');
for (const key of Object.keys(answers)) {
  if (!used.has(key)) {
    fail(`no question named ${JSON.stringify(key)} outside a repeat`);
  }
}

const payload = await root.prepareInstancePayload({ payloadType: 'monolithic' });
if (payload.status !== 'ready') {
  const problems = (payload.violations ?? []).map((v) => {
    const message = v.violation.message ? `: ${v.violation.message.asString}` : '';
    return `${v.reference} (${v.violation.condition}${message})`;
  });
  fail(`the form is not ready to submit: ${problems.join('; ')}`);
}
const data = payload.data[0];
if (attachmentsOut) {
  for (const [name, file] of data.entries()) {
    if (name !== 'xml_submission_file') {
      await writeFile(path.join(attachmentsOut, name), Buffer.from(await file.arrayBuffer()));
    }
  }
}
process.stdout.write(await data.get('xml_submission_file').text());
