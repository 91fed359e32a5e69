// Shared UI state (Svelte 5 runes): the current page, the dataset/sample the operator is looking at,
// cached lists, and notices. Pages read and write it so a selection follows the operator across pages.
import type { DatasetSummary, ModelSummary, ResultOf } from '../../../core/contract/app-api.js';
import { api, ApiError } from './api/index.js';

export type PageId = 'datasets' | 'segment' | 'frequency' | 'train' | 'federation' | 'outbox';
export const PAGES: { id: PageId; label: string; hint: string }[] = [
  { id: 'datasets', label: 'Datasets', hint: 'Import, browse and delete local images and masks' },
  { id: 'segment', label: 'Segment', hint: 'Run a model on an image and compare with the mask' },
  { id: 'frequency', label: 'Frequency', hint: 'Amplitude spectrum and style interpolation' },
  { id: 'train', label: 'Train', hint: 'Local training or federated participation' },
  { id: 'federation', label: 'Federation', hint: 'Hub connection and rounds' },
  { id: 'outbox', label: 'Outbox', hint: 'Everything that left or reached this site' },
];

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  text: string;
}

export const ui = $state({
  page: 'datasets' as PageId,
  datasets: [] as DatasetSummary[],
  datasetsLoaded: false,
  models: [] as ModelSummary[],
  datasetId: null as string | null,
  sampleIndex: 0,
  info: null as ResultOf<'getAppInfo'> | null,
  notices: [] as Notice[],
});

let noticeId = 1;
export function notify(kind: Notice['kind'], text: string): void {
  const id = noticeId++;
  ui.notices.push({ id, kind, text });
  setTimeout(() => dismiss(id), kind === 'error' ? 12000 : 5000);
}
export function dismiss(id: number): void {
  const i = ui.notices.findIndex((n) => n.id === id);
  if (i >= 0) ui.notices.splice(i, 1);
}

/** A message for the operator from anything thrown by an API call. */
export function explain(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export async function refreshDatasets(): Promise<void> {
  ui.datasets = await api.listDatasets({});
  ui.datasetsLoaded = true;
  if (ui.datasetId && !ui.datasets.some((d) => d.id === ui.datasetId)) ui.datasetId = null;
  if (!ui.datasetId && ui.datasets[0]) {
    ui.datasetId = ui.datasets[0].id;
    ui.sampleIndex = 0;
  }
}

export async function refreshModels(): Promise<void> {
  ui.models = await api.listModels({});
}

export function currentDataset(): DatasetSummary | null {
  return ui.datasets.find((d) => d.id === ui.datasetId) ?? null;
}

export function go(page: PageId): void {
  if (window.location.hash !== `#/${page}`) window.location.hash = `#/${page}`;
  ui.page = page;
}
