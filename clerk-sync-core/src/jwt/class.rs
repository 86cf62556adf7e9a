//! Telling session tokens apart from the other JWTs a Clerk instance signs with the same key.
//!
//! Clerk marks the class in the protected header's `cat` value, and machine tokens also by a
//! subject with the `mch_` prefix. The values below are Clerk's (`@clerk/backend`,
//! `tokens/jwtCategories.ts` and `tokens/machine.ts`).

use serde_json::Value;

use super::error::TokenClass;

/// `cat` of a session token.
const CATEGORY_SESSION: &str = "cl_B7d4PD111AAA";
/// `cat` of a token minted from a JWT template.
const CATEGORY_JWT_TEMPLATE: &str = "cl_B7d4PD222AAA";
/// `cat` of a machine-to-machine token.
const CATEGORY_M2M: &str = "cl_B7d4PD333AAA";
/// `cat` stamped on every class by instances that opted out of categories: it says nothing.
const CATEGORY_IGNORE: &str = "cl_I7d4PD111III";

/// The `sub` prefix of machine tokens.
pub(crate) const MACHINE_SUBJECT_PREFIX: &str = "mch_";

/// `Ok` when the header's `cat` allows a session token; `None` means the header has no `cat`
/// at all, which tokens minted before Clerk's category rollout still lack.
///
/// A present `cat` that is `null` or not a string is refused like an unknown value, as Clerk
/// does: it only skips the check when the member is absent.
pub(crate) fn check_category(cat: Option<&Value>) -> Result<(), TokenClass> {
    match cat {
        None => Ok(()),
        Some(Value::String(cat)) => match cat.as_str() {
            CATEGORY_SESSION | CATEGORY_IGNORE => Ok(()),
            CATEGORY_JWT_TEMPLATE => Err(TokenClass::JwtTemplate),
            CATEGORY_M2M => Err(TokenClass::MachineToMachine),
            _ => Err(TokenClass::UnknownCategory),
        },
        Some(_) => Err(TokenClass::UnknownCategory),
    }
}

/// `Err` when `sub` names a machine rather than a user.
pub(crate) fn check_subject(sub: &str) -> Result<(), TokenClass> {
    if sub.starts_with(MACHINE_SUBJECT_PREFIX) {
        Err(TokenClass::MachineSubject)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn categories() {
        assert_eq!(check_category(None), Ok(()));
        assert_eq!(check_category(Some(&json!(CATEGORY_SESSION))), Ok(()));
        assert_eq!(check_category(Some(&json!(CATEGORY_IGNORE))), Ok(()));
        assert_eq!(
            check_category(Some(&json!(CATEGORY_JWT_TEMPLATE))),
            Err(TokenClass::JwtTemplate)
        );
        assert_eq!(
            check_category(Some(&json!(CATEGORY_M2M))),
            Err(TokenClass::MachineToMachine)
        );
        for other in [json!(null), json!(""), json!(1), json!("cl_b7d4pd111aaa")] {
            assert_eq!(
                check_category(Some(&other)),
                Err(TokenClass::UnknownCategory),
                "{other}"
            );
        }
    }

    #[test]
    fn subjects() {
        assert_eq!(check_subject("user_1"), Ok(()));
        assert_eq!(check_subject("Mch_1"), Ok(()));
        assert_eq!(check_subject("mch_1"), Err(TokenClass::MachineSubject));
    }
}
