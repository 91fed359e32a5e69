// The sites of an experiment (docs/experiments.md §1): each dataset is one site. Either the built-in
// synthetic multi-site fundus data (the zero-setup default, core/data/synthetic/fundus.ts) or datasets
// of a FedSeg store (opened read-only). Every site gets its own prepared store holding only its images,
// with no split: a source site trains on all of its images, the unseen site is scored on all of them
// (it never trained, so it has no reason to hold any back). Runs copy these stores; nothing writes them.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FedSegError } from '../contract/errors.js';
import type { Sample } from '../contract/image.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { findDataset } from '../store/sample-source.js';
import { openSqliteStore } from '../store/sqlite-store.js';

export type ExperimentData =
  | { source: 'builtin-fundus'; sites: number; perSite: number; size: number; seed: number }
  | { source: 'store'; db: string; datasets: string[] };

export interface SiteInfo {
  /** The site's name on the hub (the dataset's name, made a valid site name). */
  name: string;
  /** The dataset it came from. */
  dataset: string;
  /** Its prepared store. */
  store: string;
  images: number;
  width: number;
  height: number;
  channels: number;
  classes: number;
  classNames: string[];
}

const SITE_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** A dataset name as a hub site name ([A-Za-z0-9_.-], at most 64), unique among `taken`. */
export function siteNameOf(dataset: string, taken: Set<string>): string {
  let base = dataset.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 56) || 'site';
  if (!SITE_NAME_RE.test(base)) base = 'site';
  let name = base;
  for (let k = 2; taken.has(name); k++) name = `${base}-${k}`;
  taken.add(name);
  return name;
}

export interface SiteSamples {
  dataset: string;
  kind: string;
  classNames: string[];
  samples: Sample[];
}

function loadSites(data: ExperimentData): SiteSamples[] {
  if (data.source === 'builtin-fundus') {
    return generateFundusSites({ sites: data.sites, perSite: data.perSite, size: data.size, seed: data.seed })
      .map((d) => ({ dataset: d.site, kind: 'fundus', classNames: ['disc', 'cup'], samples: d.samples }));
  }
  if (!existsSync(data.db)) throw new FedSegError('NOT_FOUND', `store ${data.db} does not exist`);
  const store = openSqliteStore(data.db, { readonly: true });
  try {
    const all = store.listDatasets();
    const names = data.datasets.length ? data.datasets : all.map((d) => d.name);
    return names.map((n) => {
      const d = findDataset(store, n, data.db);
      // Every image with a mask, whatever split it was imported into.
      const samples = store.loadSamples(d.id).filter((s) => s.meta?.hasMask !== false);
      return { dataset: d.name, kind: d.kind, classNames: d.classNames, samples: samples.map((s) => ({ name: s.name, image: s.image, mask: s.mask })) };
    });
  } finally {
    store.close();
  }
}

/** Checks that the sites can train one network together and leave one out. */
function checkSites(sites: SiteSamples[]): void {
  if (sites.length < 3) throw new FedSegError('INVALID_ARGUMENT', `leave-one-site-out needs at least 3 sites (2 that train, 1 unseen); got ${sites.length}: ${sites.map((s) => s.dataset).join(', ') || 'none'}`);
  const ref = sites[0]!;
  const a = ref.samples[0]!;
  for (const s of sites) {
    if (s.samples.length === 0) throw new FedSegError('INVALID_INPUT', `dataset '${s.dataset}' has no images with masks`);
    const odd = s.samples.find((x) => x.image.width !== a.image.width || x.image.height !== a.image.height || x.image.channels !== a.image.channels || x.mask.classes !== a.mask.classes);
    if (odd) {
      throw new FedSegError('SHAPE_MISMATCH', `sites must share image size, channels and classes to train one network: '${s.dataset}/${odd.name}' is ` +
        `${odd.image.width}x${odd.image.height}, ${odd.image.channels} channel(s), ${odd.mask.classes} class(es); '${ref.dataset}' has ` +
        `${a.image.width}x${a.image.height}, ${a.image.channels}, ${a.mask.classes} (resize on import: fedseg data import --size)`);
    }
  }
}

/** The sites' images, checked (at least 3, one image size, channels and classes), before anything is written. */
export function loadCheckedSites(data: ExperimentData): SiteSamples[] {
  const sites = loadSites(data);
  checkSites(sites);
  return sites;
}

/** Writes each site's prepared store under `dir` (reused when already there: they are a pure function of `data`). */
export function prepareSites(data: ExperimentData | SiteSamples[], dir: string): SiteInfo[] {
  const sites = Array.isArray(data) ? data : loadCheckedSites(data);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const taken = new Set<string>();
  return sites.map((s) => {
    const name = siteNameOf(s.dataset, taken);
    const path = join(dir, `${name}.db`);
    if (!existsSync(path)) {
      // Written under a temporary name, so a killed preparation never leaves a half-written site behind.
      const tmp = `${path}.partial`;
      rmSync(tmp, { force: true });
      const store = openSqliteStore(tmp);
      try {
        const a = s.samples[0]!;
        const ds = store.createDataset({ name, kind: s.kind, source: `experiment site: ${s.dataset}`, channels: a.image.channels, classes: a.mask.classes, classNames: s.classNames });
        store.addSamples(ds.id, s.samples.map((x) => ({ ...x, split: null })));
      } finally {
        store.close();
      }
      renameSync(tmp, path);
    }
    const a = s.samples[0]!;
    return {
      name, dataset: s.dataset, store: path, images: s.samples.length, width: a.image.width, height: a.image.height, channels: a.image.channels,
      classes: a.mask.classes, classNames: s.classNames.length === a.mask.classes ? s.classNames : Array.from({ length: a.mask.classes }, (_, c) => `class ${c}`),
    };
  });
}
