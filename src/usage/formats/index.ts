// The usage formats, in matching order: the first whose endpoint matches a request's method
// and sub-path meters it (so /messages/batches is matched before /messages, and
// /chat/completions before /completions). Adding a format: one file here, one line below.
import type { UsageFormat } from '../types';
import { anthropicBatches } from './anthropic-batches';
import { anthropicMessages } from './anthropic-messages';
import { freeEndpoints } from './free';
import { headerFormat } from './header';
import { openAiChat } from './openai-chat';
import { openAiCompletions } from './openai-completions';
import { openAiEmbeddings } from './openai-embeddings';
import { openAiResponses } from './openai-responses';

export const FORMATS: readonly UsageFormat[] = [
  freeEndpoints,
  openAiChat,
  openAiCompletions,
  openAiResponses,
  openAiEmbeddings,
  anthropicBatches,
  anthropicMessages,
  headerFormat,
];

/** Formats a route's `metering.format` may name, besides "auto" and the families. */
export const FORMAT_NAMES = FORMATS.filter((f) => !f.free).map((f) => f.name) as readonly string[];
