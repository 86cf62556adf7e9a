//! Clerk Billing (`subscription.*`, `subscriptionItem.*`, `paymentAttempt.*`).
//!
//! Clerk marks these payloads as beta and changes them between releases, so only the stable
//! fields are typed (ids, statuses, timestamps, payer, amounts) and all of them leniently.
//! Everything else stays reachable through
//! [`WebhookEvent::raw_data`](super::WebhookEvent::raw_data).

use serde::{Deserialize, Serialize};

use super::lenient::null_as_default;
use super::string_enum::string_enum;

string_enum! {
    /// Where a subscription or subscription item stands (`status`).
    SubscriptionStatus {
        /// Paid up and in force.
        Active => "active",
        /// Scheduled to start (e.g. a downgrade at the end of the period).
        Upcoming => "upcoming",
        /// Payment failed; in the grace period.
        PastDue => "past_due",
        /// Canceled; runs to the end of the paid period.
        Canceled => "canceled",
        /// No longer in force.
        Ended => "ended",
        /// Its period ran out.
        Expired => "expired",
        /// Checkout was started and never completed.
        Abandoned => "abandoned",
        /// Awaiting a first successful payment.
        Incomplete => "incomplete",
    }
}

string_enum! {
    /// The billing period of a plan (`plan_period`).
    PlanPeriod {
        /// Billed monthly.
        Month => "month",
        /// Billed yearly.
        Annual => "annual",
    }
}

string_enum! {
    /// Where a payment attempt stands (`status`).
    PaymentAttemptStatus {
        /// Not settled yet.
        Pending => "pending",
        /// Succeeded.
        Paid => "paid",
        /// Failed; see `failed_reason`.
        Failed => "failed",
    }
}

string_enum! {
    /// Why a payment was attempted (`charge_type`).
    ChargeType {
        /// The first payment, at checkout.
        Checkout => "checkout",
        /// A renewal.
        Recurring => "recurring",
    }
}

/// An amount of money (`{amount, amount_formatted, currency, currency_symbol}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MoneyAmount {
    /// In the currency's minor unit (cents).
    pub amount: Option<i64>,
    /// Formatted for display, e.g. `"20.00"`.
    pub amount_formatted: Option<String>,
    /// ISO 4217 code, e.g. `"USD"`.
    pub currency: Option<String>,
    /// Symbol, e.g. `"$"`.
    pub currency_symbol: Option<String>,
}

/// Who pays: a user or an organization (`payer`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BillingPayer {
    /// The payer id, `cpayer_...`.
    pub id: String,
    /// The paying user, when a user pays.
    pub user_id: Option<String>,
    /// The paying organization, when an organization pays.
    pub organization_id: Option<String>,
    /// The organization's name, when an organization pays.
    pub organization_name: Option<String>,
    /// The billing email address.
    pub email: Option<String>,
    /// Given name of the paying user.
    pub first_name: Option<String>,
    /// Family name of the paying user.
    pub last_name: Option<String>,
    /// Avatar or logo URL.
    pub image_url: Option<String>,
    /// The Clerk instance, `ins_...`.
    pub instance_id: Option<String>,
    /// Creation time, Unix ms.
    pub created_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: Option<i64>,
}

/// The plan a subscription item is for (`plan`), its identifying fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BillingPlan {
    /// The plan id, `cplan_...`.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// URL-friendly name, the key to check entitlements against.
    pub slug: Option<String>,
    /// The product the plan belongs to.
    pub product_id: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Whether it is the default (free) plan.
    pub is_default: Option<bool>,
    /// Whether it renews.
    pub is_recurring: Option<bool>,
}

/// A subscription, the `data` of `subscription.*`: a payer's set of subscription items.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Subscription {
    /// The subscription id, `csub_...`.
    pub id: String,
    /// Where it stands.
    pub status: Option<SubscriptionStatus>,
    /// The payer id.
    pub payer_id: Option<String>,
    /// The payer.
    pub payer: Option<BillingPayer>,
    /// The items (one per plan the payer is on or moving to).
    #[serde(default, deserialize_with = "null_as_default")]
    pub items: Vec<SubscriptionItem>,
    /// The latest payment.
    pub latest_payment_id: Option<String>,
    /// The payment method in use.
    pub payment_source_id: Option<String>,
    /// When it became active, Unix ms.
    pub active_at: Option<i64>,
    /// When it became past due, Unix ms.
    pub past_due_at: Option<i64>,
    /// When it was canceled, Unix ms.
    pub canceled_at: Option<i64>,
    /// When it ended, Unix ms.
    pub ended_at: Option<i64>,
    /// Creation time, Unix ms.
    pub created_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: Option<i64>,
}

/// One plan within a subscription, the `data` of `subscriptionItem.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SubscriptionItem {
    /// The item id, `csubi_...`.
    pub id: String,
    /// Where it stands.
    pub status: Option<SubscriptionStatus>,
    /// The plan id.
    pub plan_id: Option<String>,
    /// The plan.
    pub plan: Option<BillingPlan>,
    /// Monthly or annual billing.
    pub plan_period: Option<PlanPeriod>,
    /// The payer id, when Clerk includes it.
    pub payer_id: Option<String>,
    /// The payer, when Clerk includes it.
    pub payer: Option<BillingPayer>,
    /// Whether the item is in a free trial.
    pub is_free_trial: Option<bool>,
    /// The price per period.
    pub amount: Option<MoneyAmount>,
    /// Start of the current period, Unix ms.
    pub period_start: Option<i64>,
    /// End of the current period, Unix ms.
    pub period_end: Option<i64>,
    /// Next charge, in the currency's minor unit.
    pub next_payment_amount: Option<i64>,
    /// Next charge date, Unix ms.
    pub next_payment_date: Option<i64>,
    /// When it became past due, Unix ms.
    pub past_due_at: Option<i64>,
    /// When it was canceled, Unix ms.
    pub canceled_at: Option<i64>,
    /// When it ended, Unix ms.
    pub ended_at: Option<i64>,
    /// Creation time, Unix ms.
    pub created_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: Option<i64>,
}

/// Why a payment failed (`failed_reason`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaymentFailure {
    /// The gateway's error code.
    pub code: Option<String>,
    /// The card issuer's decline code.
    pub decline_code: Option<String>,
}

/// The totals of a payment (`totals`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BillingTotals {
    /// Before tax.
    pub subtotal: Option<MoneyAmount>,
    /// Tax.
    pub tax_total: Option<MoneyAmount>,
    /// Charged.
    pub grand_total: Option<MoneyAmount>,
}

/// An attempt to charge a payer, the `data` of `paymentAttempt.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaymentAttempt {
    /// The attempt id.
    pub id: String,
    /// Where it stands.
    pub status: Option<PaymentAttemptStatus>,
    /// Checkout or renewal.
    pub charge_type: Option<ChargeType>,
    /// The payment this attempt is for.
    pub payment_id: Option<String>,
    /// The statement the payment appears on.
    pub statement_id: Option<String>,
    /// The id at the payment gateway.
    pub gateway_external_id: Option<String>,
    /// The Clerk instance, `ins_...`.
    pub instance_id: Option<String>,
    /// The payer.
    pub payer: Option<BillingPayer>,
    /// What was charged.
    pub totals: Option<BillingTotals>,
    /// Why it failed, when it did.
    pub failed_reason: Option<PaymentFailure>,
    /// The items being paid for.
    #[serde(default, deserialize_with = "null_as_default")]
    pub subscription_items: Vec<SubscriptionItem>,
    /// The billing date, Unix ms.
    pub billing_date: Option<i64>,
    /// When it succeeded, Unix ms.
    pub paid_at: Option<i64>,
    /// When it failed, Unix ms.
    pub failed_at: Option<i64>,
    /// Creation time, Unix ms.
    pub created_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: Option<i64>,
}
