/**
 * Functions whose call the SQL classifier flags as `dangerous-function` (lower-case; a trailing `*`
 * matches any name with that prefix). They reach outside the database or the session: server
 * files, large objects (which read and write server files), other sessions, the server process,
 * other databases, and settings (set_config can change the role — the classifier additionally makes
 * set_config('role' | 'session_authorization', ...) a `privilege` statement).
 *
 * Override per call with ClassifyOptions.dangerousFunctions. Functions that modify data
 * (nextval, setval, lo_*, dblink*, ...) make a statement `write` whatever this list says.
 */
export const DEFAULT_DANGEROUS_FUNCTIONS: readonly string[] = Object.freeze([
  // server file system
  "pg_read_file",
  "pg_read_binary_file",
  "pg_ls_dir",
  "pg_ls_*", // pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir, pg_ls_archive_statusdir, ...
  "pg_stat_file",
  "pg_write_*",
  "pg_file_*", // adminpack: pg_file_write, pg_file_rename, pg_file_unlink, pg_file_sync
  "pg_logdir_ls",
  // large objects (lo_import/lo_export touch server files)
  "lo_*",
  "loread",
  "lowrite",
  // other backends and the server process
  "pg_terminate_backend",
  "pg_cancel_backend",
  "pg_reload_conf",
  "pg_rotate_logfile",
  "pg_promote",
  "pg_switch_wal",
  "pg_create_restore_point",
  "pg_backup_start",
  "pg_backup_stop",
  "pg_log_backend_memory_contexts",
  // replication slots and origins
  "pg_create_physical_replication_slot",
  "pg_create_logical_replication_slot",
  "pg_copy_physical_replication_slot",
  "pg_copy_logical_replication_slot",
  "pg_drop_replication_slot",
  "pg_logical_slot_*",
  "pg_replication_origin_*",
  // other databases
  "dblink*",
  // settings (role / session_authorization also make the statement `privilege`)
  "set_config",
]);
