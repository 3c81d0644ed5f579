export * from './plan.js';
export * from './state.js';
export * from './storage.js';
export * from './version-policy.js';
export * from './run.js';
