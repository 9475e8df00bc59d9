import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadAuthSettings, requiredCharacterSets } from '../../src/auth/settings.ts';
import type { StackContext } from '../../src/context.ts';
import { loadProjectConfig } from '../../src/project-config.ts';

/** A project folder with this config.toml; removed after `fn`. */
function withProject(toml: string | null, fn: (root: string) => void): void {
  const root = mkdtempSync(join(tmpdir(), 'auth-settings-'));
  try {
    if (toml !== null) {
      mkdirSync(join(root, 'supabase'));
      writeFileSync(join(root, 'supabase', 'config.toml'), toml);
    }
    fn(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function settingsOf(root: string, logs: string[] = []) {
  const ctx = {
    projectRoot: root,
    config: loadProjectConfig(root),
    log: (_service: string, message: string) => logs.push(message),
  } as unknown as StackContext;
  return loadAuthSettings(ctx);
}

test('auth settings without a config.toml are GoTrue defaults as the CLI sets them', () => {
  withProject(null, (root) => {
    assert.deepEqual(settingsOf(root), {
      emailEnabled: true,
      otpLength: 6,
      otpExpirySeconds: 3600,
      maxFrequencySeconds: 1,
      secureEmailChange: true,
      requiredCharacters: [],
      templates: {},
    });
  });
});

test('auth settings come from [auth] and [auth.email] of config.toml', () => {
  const toml = [
    '[auth]',
    'password_requirements = "letters_digits"',
    '[auth.email]',
    'enabled = false',
    'otp_length = 8',
    'otp_expiry = 600',
    'max_frequency = "1m30s"',
    'double_confirm_changes = false',
    '[auth.email.template.confirmation]',
    'subject = "Welcome"',
    'content_path = "./templates/confirm.html"',
    '[auth.email.template.magic_link]',
    'content_path = "./templates/missing.html"',
    '[auth.email.template.not_a_template]',
    'subject = "ignored"',
  ].join('\n');
  withProject(toml, (root) => {
    mkdirSync(join(root, 'templates'));
    writeFileSync(join(root, 'templates', 'confirm.html'), '<p>{{ .ConfirmationURL }}</p>');
    const logs: string[] = [];
    const settings = settingsOf(root, logs);
    assert.equal(settings.emailEnabled, false);
    assert.equal(settings.otpLength, 8);
    assert.equal(settings.otpExpirySeconds, 600);
    assert.equal(settings.maxFrequencySeconds, 90, 'a Go duration');
    assert.equal(settings.secureEmailChange, false);
    assert.deepEqual(settings.requiredCharacters, requiredCharacterSets('letters_digits'));
    assert.deepEqual(settings.templates, {
      signup: { subject: 'Welcome', body: '<p>{{ .ConfirmationURL }}</p>' },
      magiclink: {},
    });
    assert.equal(logs.length, 1);
    assert.match(logs[0], /email template magic_link: .*missing\.html not found, using the default/);
  });
});

test('a config.toml that is not TOML is an error naming the file', () => {
  withProject('[auth\nsite_url = 1', (root) => {
    assert.throws(
      () => loadProjectConfig(root),
      (error: unknown) =>
        error instanceof Error && error.message.startsWith(join(root, 'supabase', 'config.toml')),
    );
  });
});
