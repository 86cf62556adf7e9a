//! The verification state Clerk attaches to email addresses, phone numbers, wallets and
//! external accounts.

use serde::{Deserialize, Serialize};

use super::string_enum::string_enum;

string_enum! {
    /// Where a verification stands (`verification.status`).
    VerificationStatus {
        /// The identifier is proven to belong to the user.
        Verified => "verified",
        /// Verification has not completed yet.
        Unverified => "unverified",
        /// The identifier was verified in another sign-up/sign-in flow and can be transferred.
        Transferable => "transferable",
        /// Verification was attempted and failed.
        Failed => "failed",
        /// The verification window passed before it completed.
        Expired => "expired",
    }
}

string_enum! {
    /// How an identifier was (or is being) verified (`verification.strategy`).
    ///
    /// OAuth strategies carry the provider in the string (`oauth_google`,
    /// `from_oauth_github`) and stay in [`Other`](Self::Other); see
    /// [`oauth_provider`](Self::oauth_provider).
    VerificationStrategy {
        /// A one-time code sent by email.
        EmailCode => "email_code",
        /// A magic link sent by email.
        EmailLink => "email_link",
        /// A one-time code sent by SMS.
        PhoneCode => "phone_code",
        /// An invitation or sign-in ticket.
        Ticket => "ticket",
        /// Marked verified by an administrator through the Backend API or dashboard.
        Admin => "admin",
        /// SAML single sign-on (legacy name of `enterprise_sso`).
        Saml => "saml",
        /// Enterprise single sign-on (SAML or OIDC).
        EnterpriseSso => "enterprise_sso",
        /// A passkey (WebAuthn).
        Passkey => "passkey",
        /// A password.
        Password => "password",
        /// A time-based one-time password from an authenticator app.
        Totp => "totp",
        /// A backup code.
        BackupCode => "backup_code",
        /// An email code sent to reset the password.
        ResetPasswordEmailCode => "reset_password_email_code",
        /// An SMS code sent to reset the password.
        ResetPasswordPhoneCode => "reset_password_phone_code",
        /// A signature from a MetaMask wallet.
        Web3MetamaskSignature => "web3_metamask_signature",
        /// A signature from a Coinbase wallet.
        Web3CoinbaseWalletSignature => "web3_coinbase_wallet_signature",
        /// A signature from an OKX wallet.
        Web3OkxWalletSignature => "web3_okx_wallet_signature",
    }
}

impl VerificationStrategy {
    /// The OAuth provider of an `oauth_<provider>` or `from_oauth_<provider>` strategy.
    ///
    /// ```
    /// use clerk_sync_core::event::VerificationStrategy;
    /// let strategy = VerificationStrategy::from("from_oauth_google");
    /// assert_eq!(strategy.oauth_provider(), Some("google"));
    /// assert_eq!(VerificationStrategy::from("ticket").oauth_provider(), None);
    /// ```
    pub fn oauth_provider(&self) -> Option<&str> {
        match self {
            Self::Other(s) => s
                .strip_prefix("from_oauth_")
                .or_else(|| s.strip_prefix("oauth_")),
            _ => None,
        }
    }
}

/// The verification object of an identifier (`verification`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Verification {
    /// Where the verification stands.
    pub status: VerificationStatus,
    /// How it was verified; absent on some legacy payloads.
    pub strategy: Option<VerificationStrategy>,
    /// Attempts made so far, when Clerk reports it.
    pub attempts: Option<i64>,
    /// When the pending verification expires (Unix ms), when Clerk reports it.
    pub expire_at: Option<i64>,
    /// Where to send the user to finish an external (OAuth) verification.
    pub external_verification_redirect_url: Option<String>,
    /// The verification error Clerk recorded, if any, as sent.
    pub error: Option<serde_json::Value>,
}

impl Verification {
    /// A verification with the given status and strategy and nothing else, for building
    /// payloads in tests.
    pub fn new(status: VerificationStatus, strategy: Option<VerificationStrategy>) -> Self {
        Self {
            status,
            strategy,
            attempts: None,
            expire_at: None,
            external_verification_redirect_url: None,
            error: None,
        }
    }

    /// Whether the status is [`VerificationStatus::Verified`].
    pub fn is_verified(&self) -> bool {
        self.status == VerificationStatus::Verified
    }
}
