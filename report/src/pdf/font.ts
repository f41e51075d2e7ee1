import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SlothError } from '@sloth/core';

export interface ReportFonts {
  readonly regular: string;
  readonly bold: string;
}

/**
 * DejaVu Sans from the pinned `dejavu-fonts-ttf` package: it covers the
 * Unicode minus Vega writes in axis labels and the agent names people choose,
 * and being a file in node_modules it renders the same on every machine.
 */
export function reportFonts(): ReportFonts {
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  } catch (error) {
    throw new SlothError('SLOTH_ERR_CONFIG', 'the report font package "dejavu-fonts-ttf" is not installed: run `npm install` in the Sloth checkout (it ships DejaVuSans.ttf, which the PDF embeds)', { cause: error });
  }
  const fonts = { regular: join(dir, 'DejaVuSans.ttf'), bold: join(dir, 'DejaVuSans-Bold.ttf') };
  for (const file of Object.values(fonts)) {
    if (!existsSync(file)) throw new SlothError('SLOTH_ERR_CONFIG', `the report font ${file} is missing: reinstall the "dejavu-fonts-ttf" package (npm install)`);
  }
  return fonts;
}
