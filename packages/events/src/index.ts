export {
  EnhancedEventEmitter,
  type EventMap,
  type Listener,
  type ListenerErrorReporter,
} from './enhanced-event-emitter.ts';
export { SerialQueue } from './serial-queue.ts';
