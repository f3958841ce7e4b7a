export function ErrorBanner({
  message,
  onDismiss,
  testId = 'error-banner',
}: {
  message: string;
  onDismiss?: () => void;
  testId?: string;
}) {
  return (
    <div className="banner banner-error" role="alert" data-testid={testId}>
      <span className="banner-icon" aria-hidden="true">
        !
      </span>
      <span className="banner-text">{message}</span>
      {onDismiss && (
        <button
          type="button"
          className="icon-button"
          onClick={onDismiss}
          aria-label="Dismiss this message"
          data-testid={`${testId}-dismiss`}
        >
          ×
        </button>
      )}
    </div>
  );
}
