/**
 * Masking for SSH sessions: the shared text masker (worker/masking/text-mask.ts: `window()` per
 * output stream — stdout and stderr of each channel, typed input — and `text()` for the trail)
 * plus `sftpReads()`, one per SFTP channel, masking file contents in READ replies.
 */
import type { SessionMasker } from "../../../worker/masking/session-masker.ts";
import type { MaskingConfig } from "../../../parsers/masking/config.ts";
import { textMaskFromSessionMasker as sharedTextMask, type TextMasker } from "../../../worker/masking/text-mask.ts";
import { SftpReadMasker } from "./sftp-read-mask.ts";

export interface SshTextMasker extends TextMasker {
  sftpReads(): SftpReadMasker;
}

export function textMaskFromSessionMasker(masker: SessionMasker, config: MaskingConfig): SshTextMasker {
  const text = sharedTextMask(masker, config);
  return { ...text, sftpReads: () => new SftpReadMasker(masker, [...text.shapes]) };
}
