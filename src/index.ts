import { DurableObject } from 'cloudflare:workers';
export class LimiterObject extends DurableObject {}
export default { async fetch() { return new Response('ok'); } } satisfies ExportedHandler;
