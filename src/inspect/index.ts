export {
  createSymphonyInspector,
  type SymphonyInspector,
  type SymphonyInspectorOptions,
  type SymphonyInspectorStatus,
} from './websocket-inspector.js';
export { STATELY_PROTOCOL_VERSION, type StatelyEvent } from './stately-events.js';
