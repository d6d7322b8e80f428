//! [`define_language!`](crate::define_language): declare a language in Rust.

/// Declares an enum and implements [`Language`](crate::Language),
/// [`FromOp`](crate::FromOp) and `Display` for it.
///
/// Three kinds of variants, in any order (each followed by a comma):
/// - `"op" = Name,`: an operator with no children;
/// - `"op" = Name(Children),`: an operator whose children are held in any
///   [`LanguageChildren`](crate::LanguageChildren) type: `Id`, `[Id; N]`,
///   `Vec<Id>`, `Box<[Id]>`;
/// - `Name(Data),`: a leaf carrying data that implements `FromStr`,
///   `Display`, `Ord` and `Hash` (constants, symbols).
///
/// Parsing tries operator variants first (by operator text and arity), then
/// data variants in declaration order, so put catch-alls such as `Symbol`
/// last.
///
/// ```
/// use saturn::{define_language, Id, Language, RecExpr, Symbol};
/// define_language! {
///     pub enum Arith {
///         "+" = Add([Id; 2]),
///         "neg" = Neg(Id),
///         "pi" = Pi,
///         Num(i64),
///         Var(Symbol),
///     }
/// }
/// let e: RecExpr<Arith> = "(+ (neg 2) (+ pi x))".parse().unwrap();
/// assert_eq!(e.to_string(), "(+ (neg 2) (+ pi x))");
/// assert!(matches!(e[e.root()], Arith::Add(_)));
/// assert!("(+ 1)".parse::<RecExpr<Arith>>().is_err());
/// ```
#[macro_export]
macro_rules! define_language {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($body:tt)* }) => {
        $crate::__define_language! {
            @munch [$(#[$meta])* $vis $name] [] [] [] $($body)*
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __define_language {
    // "op" = Name(Children),
    (@munch $head:tt [$($n:tt)*] [$($c:tt)*] [$($d:tt)*]
        $op:literal = $variant:ident ($ty:ty), $($rest:tt)*) => {
        $crate::__define_language! { @munch $head [$($n)*] [$($c)* ($op, $variant, $ty)] [$($d)*] $($rest)* }
    };
    // "op" = Name,
    (@munch $head:tt [$($n:tt)*] [$($c:tt)*] [$($d:tt)*]
        $op:literal = $variant:ident, $($rest:tt)*) => {
        $crate::__define_language! { @munch $head [$($n)* ($op, $variant)] [$($c)*] [$($d)*] $($rest)* }
    };
    // Name(Data),
    (@munch $head:tt [$($n:tt)*] [$($c:tt)*] [$($d:tt)*]
        $variant:ident ($ty:ty), $($rest:tt)*) => {
        $crate::__define_language! { @munch $head [$($n)*] [$($c)*] [$($d)* ($variant, $ty)] $($rest)* }
    };
    (@munch [$(#[$meta:meta])* $vis:vis $name:ident]
        [$(($nop:literal, $nv:ident))*]
        [$(($cop:literal, $cv:ident, $cty:ty))*]
        [$(($dv:ident, $dty:ty))*]) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name {
            $($nv,)*
            $($cv($cty),)*
            $($dv($dty),)*
        }

        impl $crate::Language for $name {
            type Discriminant = ::std::mem::Discriminant<Self>;

            #[inline(always)]
            fn discriminant(&self) -> Self::Discriminant {
                ::std::mem::discriminant(self)
            }

            #[inline]
            fn matches(&self, other: &Self) -> bool {
                match (self, other) {
                    $(($name::$nv, $name::$nv) => true,)*
                    $(($name::$cv(a), $name::$cv(b)) =>
                        $crate::LanguageChildren::as_slice(a).len()
                            == $crate::LanguageChildren::as_slice(b).len(),)*
                    $(($name::$dv(a), $name::$dv(b)) => a == b,)*
                    #[allow(unreachable_patterns)]
                    _ => false,
                }
            }

            #[inline]
            fn children(&self) -> &[$crate::Id] {
                match self {
                    $($name::$nv => &[],)*
                    $($name::$cv(c) => $crate::LanguageChildren::as_slice(c),)*
                    $($name::$dv(_) => &[],)*
                }
            }

            #[inline]
            fn children_mut(&mut self) -> &mut [$crate::Id] {
                match self {
                    $($name::$nv => &mut [],)*
                    $($name::$cv(c) => $crate::LanguageChildren::as_mut_slice(c),)*
                    $($name::$dv(_) => &mut [],)*
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self {
                    $($name::$nv => f.write_str($nop),)*
                    $($name::$cv(_) => f.write_str($cop),)*
                    $($name::$dv(d) => ::std::fmt::Display::fmt(d, f),)*
                }
            }
        }

        impl $crate::FromOp for $name {
            #[allow(unused_variables)]
            fn from_op(op: &str, children: ::std::vec::Vec<$crate::Id>)
                -> ::std::result::Result<Self, $crate::FromOpError> {
                $(if op == $nop && children.is_empty() {
                    return Ok($name::$nv);
                })*
                $(if op == $cop
                    && <$cty as $crate::LanguageChildren>::can_be_length(children.len()) {
                    return Ok($name::$cv(<$cty as $crate::LanguageChildren>::from_vec(children)));
                })*
                if children.is_empty() {
                    $(if let Ok(d) = op.parse::<$dty>() {
                        return Ok($name::$dv(d));
                    })*
                }
                let known = false $(|| op == $nop)* $(|| op == $cop)*;
                Err($crate::FromOpError::new(op, children.len(), known))
            }
        }
    };
}
