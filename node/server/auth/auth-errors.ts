// etcd's Auth errors, with the messages and gRPC codes etcd 3.4 answers
// (clients such as clientv3 recognise them by their text).
import { ServerError } from '../errors.js';

export const errRootUserNotExist = (): ServerError => new ServerError('FAILED_PRECONDITION', 'etcdserver: root user does not exist');
export const errRootRoleNotExist = (): ServerError => new ServerError('FAILED_PRECONDITION', 'etcdserver: root user does not have root role');
export const errUserAlreadyExist = (): ServerError => new ServerError('FAILED_PRECONDITION', 'etcdserver: user name already exists');
export const errUserEmpty = (): ServerError => new ServerError('INVALID_ARGUMENT', 'etcdserver: user name is empty');
export const errUserNotFound = (): ServerError => new ServerError('FAILED_PRECONDITION', 'etcdserver: user name not found');
export const errRoleAlreadyExist = (): ServerError => new ServerError('FAILED_PRECONDITION', 'etcdserver: role name already exists');
export const errRoleNotFound = (): ServerError => new ServerError('FAILED_PRECONDITION', 'etcdserver: role name not found');
export const errRoleEmpty = (): ServerError => new ServerError('INVALID_ARGUMENT', 'etcdserver: role name is empty');
export const errAuthFailed = (): ServerError => new ServerError('INVALID_ARGUMENT', 'etcdserver: authentication failed, invalid user ID or password');
export const errPermissionDenied = (): ServerError => new ServerError('PERMISSION_DENIED', 'etcdserver: permission denied');
export const errRoleNotGranted = (): ServerError => new ServerError('FAILED_PRECONDITION', 'etcdserver: role is not granted to the user');
export const errPermissionNotGranted = (): ServerError => new ServerError('FAILED_PRECONDITION', 'etcdserver: permission is not granted to the role');
export const errAuthNotEnabled = (): ServerError => new ServerError('FAILED_PRECONDITION', 'etcdserver: authentication is not enabled');
export const errInvalidAuthToken = (): ServerError => new ServerError('UNAUTHENTICATED', 'etcdserver: invalid auth token');
export const errAuthOldRevision = (): ServerError => new ServerError('INVALID_ARGUMENT', 'etcdserver: revision of auth store is old');
export const errInvalidAuthMgmt = (): ServerError => new ServerError('INVALID_ARGUMENT', 'etcdserver: invalid auth management');
/** An Auth write before every member reads the entries that carry it. */
export const errAuthNotReady = (format: number): ServerError =>
  new ServerError(
    'FAILED_PRECONDITION',
    `etcdserver: the Auth API needs every member at entry format 4 or later (the cluster is at ${format}); upgrade every member first`,
  );
