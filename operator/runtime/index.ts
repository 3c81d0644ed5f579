// The controller runtime: informers, work queue, workers, leader election, health/metrics server, logger.
export * from './informer.js';
export * from './workqueue.js';
export * from './controller.js';
export * from './leader.js';
export * from './metrics.js';
export * from './server.js';
export * from './logger.js';
