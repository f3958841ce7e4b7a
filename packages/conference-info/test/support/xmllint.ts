/**
 * Schema validation of conference-info documents with Debian's xmllint (libxml2), for tests in any
 * package: `import { SchemaValidator } from '@conclave/conference-info/test-support'`.
 * Node only (child_process, fs): never imported by src/.
 *
 * Each document is checked against both the normative RFC 4575 schema (extension elements are
 * skipped there, processContents="lax") and Conclave's extension schema, which imports the RFC one
 * and checks the extension elements strictly. Offline: schema/catalog.xml resolves the XML
 * namespace schema import, and xmllint runs with --nonet.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const XMLLINT = '/usr/bin/xmllint';
const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));
export const RFC4575_SCHEMA = join(SCHEMA_DIR, 'conference-info.xsd');
export const CONCLAVE_SCHEMA = join(SCHEMA_DIR, 'conclave-conference-info-ext.xsd');
const CATALOG = join(SCHEMA_DIR, 'catalog.xml');

export interface ValidationResult {
  valid: boolean;
  /** xmllint's messages about this document (empty when valid). */
  errors: string[];
}

/** Validates documents against one schema with a single xmllint run. */
export function validateWithSchema(documents: readonly string[], schema: string): ValidationResult[] {
  if (documents.length === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), 'conference-info-xsd-'));
  try {
    const files = documents.map((doc, i) => {
      const file = join(dir, `doc-${String(i).padStart(5, '0')}.xml`);
      writeFileSync(file, doc, 'utf8');
      return file;
    });
    const run = spawnSync(XMLLINT, ['--nonet', '--noout', '--schema', schema, ...files], {
      encoding: 'utf8',
      env: { ...process.env, XML_CATALOG_FILES: CATALOG },
      maxBuffer: 64 * 1024 * 1024,
    });
    if (run.error) throw run.error;
    const lines = `${run.stderr}\n${run.stdout}`.split('\n');
    if (
      lines.some(
        (l) => l.includes('Schemas parser error') || (l.includes('WXS schema') && l.includes('failed to compile')),
      )
    ) {
      throw new Error(`xmllint could not compile ${schema}:\n${run.stderr}`);
    }
    return files.map((file) => {
      const validates = lines.includes(`${file} validates`);
      const errors = lines.filter((l) => l.startsWith(`${file}:`) || l === `${file} fails to validate`);
      return { valid: validates && !lines.includes(`${file} fails to validate`), errors };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Valid against the RFC 4575 schema AND Conclave's extension schema. */
export function validateDocuments(documents: readonly string[]): ValidationResult[] {
  const rfc = validateWithSchema(documents, RFC4575_SCHEMA);
  const conclave = validateWithSchema(documents, CONCLAVE_SCHEMA);
  return documents.map((_, i) => {
    const a = rfc[i] ?? { valid: false, errors: ['missing result'] };
    const b = conclave[i] ?? { valid: false, errors: ['missing result'] };
    return { valid: a.valid && b.valid, errors: [...a.errors, ...b.errors] };
  });
}

/** Collects every document a test file serialises, to validate them all at the end in one run. */
export class SchemaValidator {
  readonly #documents: string[] = [];
  #validated = 0;

  /** Records a serialised document and returns it unchanged. */
  record(xml: string): string {
    this.#documents.push(xml);
    return xml;
  }

  get pending(): number {
    return this.#documents.length;
  }

  get validated(): number {
    return this.#validated;
  }

  /** Validates (and forgets) the recorded documents; returns the invalid ones with their errors. */
  validateRecorded(): { document: string; errors: string[] }[] {
    const docs = this.#documents.splice(0);
    const results = validateDocuments(docs);
    this.#validated += docs.length;
    return results.flatMap((r, i) => (r.valid ? [] : [{ document: docs[i] ?? '', errors: r.errors }]));
  }
}
