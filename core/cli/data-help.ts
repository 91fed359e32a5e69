// Usage texts of `fedseg data` and its subcommands.
import { exitCodeHelp } from '../contract/exit-codes.js';

export const USAGE = `usage: fedseg data <subcommand> [options]   (fedseg data <subcommand> --help)

  generate   built-in multi-site data (fundus | prostate) as files (--out) or into a store (--db)
  import     PNG/JPEG folders with masks, DoFE layout, FedDG .npy, NIfTI volumes (all-or-nothing)
  list       datasets in a store
  stats      per-dataset statistics (and a thumbnail grid PNG with mask overlays)
  rename     rename a dataset
  delete     delete a dataset and its samples

${exitCodeHelp()}`;

export const HELP: Record<string, string> = {
  generate: `usage: fedseg data generate --kind fundus|prostate (--out DIR | --db FILE) [options]

  --kind K          fundus (RGB, disc + cup) or prostate (1-channel MRI-like, gland)
  --sites N         number of sites (default 4; fundus 1-4 / prostate 1-6 have fixed styles, more are random)
  --per-site N      samples (fundus images / prostate slices) per site (default 60)
  --size N          square image size in pixels (default 128)
  --seed N          seed (default 0); the same seed gives byte-identical data
  --depth N         prostate: slices per volume (default 20)
  --out DIR         write files: fundus -> DoFE layout DomainK/{train,test}/ROIs/{image,mask}/*.png,
                    prostate -> <site>/<case>.nii.gz + <case>_segmentation.nii.gz
  --format F        with --out: dofe | binary | npy (fundus), nifti | npy (prostate)
  --test-fraction F fundus DoFE layout: fraction of each site written to test/ (default 0.2)
  --db FILE         write straight into a store, one dataset per site
  --prefix P        dataset name prefix with --db (default '')`,
  import: `usage: fedseg data import --db FILE --format FMT PATH [options]

  --format FMT      folder | dofe | npy | nifti
  PATH              folder: the images folder; dofe: the folder holding DomainK/; npy/nifti: the folder of files
  --name NAME       dataset name (required except for dofe)
  --masks DIR       folder: masks folder (default: PATH, masks told apart by suffix)
  --convention C    folder: labelmap | refuge | binary (default refuge)
  --classes SPEC    labelmap/nifti: label values per class, ';' between classes, e.g. "1,2;2" (fundus
                    disc incl. cup; cup) or "1,2" (SAML prostate labels merged); default fundus / all non-zero
  --class-names L   comma-separated class names
  --structures SPEC binary: "suffix:name,..." (default "-Disc-T:disc,-Cup-T:cup")
  --tolerance N     refuge/binary: grey-level tolerance (default 0)
  --channels 1|3    folder: image channels (default: from the first image)
  --image-channels N npy: image channels at the front of the last axis (default 3 if it has 5, else 1)
  --split S         train | test | val for every imported sample (dofe keeps its own)
  --prefix P        dofe: dataset name prefix
  --resize WxH      resize on import (images bilinear, masks nearest), e.g. 128x128
  --no-zscore       nifti: keep raw intensities (default: per-volume z-score)
  --skip-empty      nifti: drop slices with an empty label
  --dry-run         validate and report only; writes nothing (exit 7 if problems were found)
  --skip-bad        leave out files that fail a check (listed) and import the rest, still all-or-nothing
  --kind K          dataset kind label (fundus, prostate, ...)`,
  list: `usage: fedseg data list --db FILE [--json]`,
  stats: `usage: fedseg data stats --db FILE [--dataset NAME|ID] [--grid FILE.png] [--grid-size N] [--json]

  --dataset D       one dataset (default: all)
  --grid FILE       write a thumbnail grid PNG with mask overlays (needs --dataset unless there is one dataset)
  --grid-size N     thumbnail cell size in pixels (default 96); --grid-count N thumbnails (default 16)`,
  rename: `usage: fedseg data rename --db FILE --dataset NAME|ID --to NEW_NAME`,
  delete: `usage: fedseg data delete --db FILE --dataset NAME|ID`,
};
