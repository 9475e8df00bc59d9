/** `supadispatch/webhooks`: what a receiver of supadispatch's webhooks needs (Node). */
export {
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  type DispatchWebhookPayload,
  type VerifiedWebhook,
  type VerifyWebhookOptions,
  type VerifyWebhookResult,
  verifyWebhook,
  type WebhookHeaders,
  WebhookVerificationError,
  type WebhookVerificationErrorCode,
} from './verify.ts';
