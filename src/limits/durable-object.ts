import { DurableObject } from 'cloudflare:workers';
export class LimiterObject extends DurableObject {}
